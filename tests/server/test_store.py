"""The SQLite store on a temporary data directory."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from server.alarms.lifecycle import Alarm, AlarmChange
from server.store.records import AuditEntry, EventRecord, WriteBatch
from server.store.sqlite import DB_NAME, SqliteStore, StoreError
from server.twin import PersonState


def _event(event_id: str, ts: int = 1_700_000_000_000) -> EventRecord:
    return EventRecord(event_id, "edge-intake", "reader-entrance", "tag_enter",
                       {"tag": "wb-S1"}, ts, 1_700_000_000.5)


async def test_events_are_idempotent(tmp_path: Path) -> None:
    """Writing the same event id twice (an edge's replay) stores it once."""
    async with SqliteStore(tmp_path) as store:
        await store.write(WriteBatch(events=[_event("evt-00000001"), _event("evt-00000002")]))
        await store.write(WriteBatch(events=[_event("evt-00000001")]))
        events = await store.recent_events()
    assert sorted(e.id for e in events) == ["evt-00000001", "evt-00000002"]
    assert events[0].data == {"tag": "wb-S1"}


async def test_alarms_and_people_survive_reopen(tmp_path: Path) -> None:
    """Alarm transitions and people are read back after the store is reopened; cleared
    alarms stay in history but are not reloaded as open ones."""
    alarm = Alarm(id=7, rule="unattended_person", subject="S1", zone="interrogation-1",
                  severity="critical", state="active_acked", message_zh="无人看管",
                  message_en="unattended", raised_at=100.0, updated_at=110.0, acked_at=110.0,
                  acked_by="duty1", comments=[(110.0, "duty1", "on my way")])
    done = Alarm(id=3, rule="panic_button", subject="panic-holding-1", zone="holding-1",
                 severity="critical", state="cleared", message_zh="", message_en="",
                 raised_at=1.0, updated_at=2.0, cleared_at=2.0)
    person = PersonState(id="S1", role="suspect", sex="male", age=34, case="C-001",
                         custody_basis="criminal_summons", custody_start=50.0,
                         in_custody=True, tag="wb-S1", zone="interrogation-1",
                         timeline=[("entrance", 50.0, 60.0), ("interrogation-1", 60.0, None)])
    async with SqliteStore(tmp_path) as store:
        await store.write(WriteBatch(alarm_changes=[AlarmChange(alarm, "acked", 110.0, "duty1"),
                                                    AlarmChange(done, "cleared", 2.0)],
                                     people=[person]))
    async with SqliteStore(tmp_path) as store:
        alarms = await store.load_alarms()
        people = await store.load_people()
        assert await store.max_alarm_id() == 7
    assert alarms == [alarm]
    assert people == [person]


async def test_audit_chain_detects_tampering(tmp_path: Path) -> None:
    """The audit log is hash-chained across restarts; editing an entry breaks the chain."""
    async with SqliteStore(tmp_path) as store:
        await store.audit("admin", "login")
        await store.write(WriteBatch(audit=[AuditEntry(1.0, "duty1", "alarm_ack",
                                                       {"alarm": 7})]))
    async with SqliteStore(tmp_path) as store:
        await store.audit("duty1", "custody_release", person="S1")
        assert await store.verify_audit() == 3
    with sqlite3.connect(tmp_path / DB_NAME) as db:
        db.execute("UPDATE audit SET user = 'someone' WHERE seq = 2")
    async with SqliteStore(tmp_path) as store:
        with pytest.raises(StoreError, match="entry 2"):
            await store.verify_audit()
