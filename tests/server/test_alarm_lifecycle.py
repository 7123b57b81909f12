"""Alarm lifecycle (server/alarms/lifecycle.py): one alarm per (rule, subject) while active."""

from __future__ import annotations

import pytest

from server.alarms.lifecycle import Alarm, AlarmAlreadyAcked, AlarmBook, AlarmNotFound
from server.errors import Conflict, NotFound
from server.rules.types import Violation


def violation(rule: str = "unattended_person", subject: str = "S1",
              zone: str = "interrogation-1", message: str = "unattended") -> Violation:
    return Violation(rule=rule, subject=subject, zone=zone, severity="critical",
                     message_zh=message, message_en=message, since=0.0)


def active(*vs: Violation) -> dict[tuple[str, str], Violation]:
    return {v.key: v for v in vs}


def test_raise_ack_clear() -> None:
    """New violation → active_unacked; ack → active_acked (who, when, comment); the
    condition ends → cleared, with every step reported once."""
    book = AlarmBook()
    [raised] = book.sync(active(violation()), now=10)
    assert raised.action == "raised"
    alarm = raised.alarm
    assert (alarm.id, alarm.state, alarm.raised_at, alarm.zone) == (1, "active_unacked", 10,
                                                                    "interrogation-1")
    acked = book.ack(1, "duty1", now=12, comment="on my way")
    assert (acked.action, acked.by, acked.alarm.state) == ("acked", "duty1", "active_acked")
    assert (acked.alarm.acked_at, acked.alarm.comments) == (12, [(12, "duty1", "on my way")])
    [cleared] = book.sync({}, now=20)
    assert (cleared.action, cleared.alarm.state, cleared.alarm.cleared_at) == (
        "cleared", "cleared", 20)
    assert book.active() == [] and book.open() == []
    assert book.sync({}, now=21) == []


def test_cleared_before_ack_waits_for_ack() -> None:
    """A condition that ends before anyone acknowledged leaves cleared_unacked; the ack then
    closes it."""
    book = AlarmBook()
    book.sync(active(violation()), now=10)
    [cleared] = book.sync({}, now=11)
    assert cleared.alarm.state == "cleared_unacked"
    assert [a.id for a in book.open()] == [1]
    change = book.ack(1, "duty1", now=30)
    assert change.alarm.state == "cleared"
    assert book.open() == [] and book.get(1).acked_by == "duty1"


def test_return_after_close_raises_a_new_alarm() -> None:
    """Once acknowledged and cleared, a returning condition is a new alarm with a new id;
    the old one stays as history."""
    book = AlarmBook()
    book.sync(active(violation()), now=10)
    book.ack(1, "duty1", now=11)
    book.sync({}, now=12)
    [again] = book.sync(active(violation()), now=50)
    assert (again.action, again.alarm.id, again.alarm.count) == ("raised", 2, 1)
    assert [(a.id, a.state) for a in book.all()] == [(2, "active_unacked"), (1, "cleared")]


def test_return_before_ack_folds_into_the_same_alarm() -> None:
    """A condition that returns while its alarm is cleared_unacked re-activates that alarm
    (same id, count 2, active_unacked again) instead of flooding the wall."""
    book = AlarmBook()
    book.sync(active(violation()), now=10)
    book.sync({}, now=11)
    [back] = book.sync(active(violation()), now=12)
    assert (back.action, back.alarm.id, back.alarm.count) == ("raised", 1, 2)
    assert (back.alarm.state, back.alarm.cleared_at, back.alarm.raised_at) == (
        "active_unacked", None, 10)
    assert len(book.all()) == 1


def test_duplicate_sync_yields_one_alarm_and_updates_only_on_change() -> None:
    """The same violation synced again changes nothing; a new zone or message is an
    'updated' change of the same alarm (e.g. an unsearched person moving on)."""
    book = AlarmBook()
    assert len(book.sync(active(violation()), now=10)) == 1
    assert book.sync(active(violation()), now=11) == []
    [upd] = book.sync(active(violation(zone="corridor-a", message="moved")), now=12)
    assert (upd.action, upd.alarm.id, upd.alarm.zone, upd.alarm.updated_at) == (
        "updated", 1, "corridor-a", 12)
    assert upd.alarm.count == 1 and len(book.all()) == 1


def test_one_alarm_per_rule_and_subject() -> None:
    """Different subjects or rules are different alarms; clearing one leaves the others."""
    book = AlarmBook()
    changes = book.sync(active(violation(subject="S1"), violation(subject="S2"),
                               violation(rule="search_skipped", subject="S1")), now=1)
    assert sorted(c.alarm.id for c in changes) == [1, 2, 3]
    [cleared] = book.sync(active(violation(subject="S1"), violation(subject="S2")), now=2)
    assert cleared.alarm.key == ("search_skipped", "S1")
    assert book.by_key(("unattended_person", "S2")) is not None


def test_ack_errors() -> None:
    """Unknown id → AlarmNotFound (a NotFound); a second ack → AlarmAlreadyAcked (a
    Conflict), leaving the first acknowledgement intact."""
    book = AlarmBook()
    book.sync(active(violation()), now=1)
    with pytest.raises(AlarmNotFound) as missing:
        book.ack(99, "duty1", now=2)
    assert isinstance(missing.value, NotFound)
    book.ack(1, "duty1", now=2)
    with pytest.raises(AlarmAlreadyAcked) as twice:
        book.ack(1, "duty2", now=3)
    assert isinstance(twice.value, Conflict)
    assert (book.get(1).acked_by, book.get(1).acked_at) == ("duty1", 2)


def test_changes_are_snapshots() -> None:
    """A change keeps the alarm as it was at that transition, even after later ones."""
    book = AlarmBook()
    [raised] = book.sync(active(violation()), now=1)
    book.ack(1, "duty1", now=2)
    book.comment(1, "duty1", "arrived", now=3)
    assert raised.alarm.state == "active_unacked" and raised.alarm.comments == []
    assert book.get(1).comments == [(3, "duty1", "arrived")]


def test_restore_continues_ids_and_open_alarms() -> None:
    """Restored from the store: ids continue after the highest; a still-active stored alarm
    absorbs its violation (no duplicate) or clears; a closed one does not."""
    stored = [
        Alarm(id=7, rule="unattended_person", subject="S1", zone="holding-1",
              severity="critical", state="active_acked", message_zh="m", message_en="m",
              raised_at=1, updated_at=1, acked_at=2, acked_by="duty1"),
        Alarm(id=3, rule="node_offline", subject="gw-1", zone=None, severity="major",
              state="cleared", message_zh="m", message_en="m", raised_at=1, updated_at=1,
              cleared_at=2),
    ]
    book = AlarmBook(stored)
    changes = book.sync(active(violation(zone="holding-1", message="m"),
                               violation(rule="node_offline", subject="gw-1")), now=10)
    assert [(c.action, c.alarm.id) for c in changes] == [("raised", 8)]
    assert book.get(7).state == "active_acked"
    [cleared] = book.sync(active(violation(rule="node_offline", subject="gw-1")), now=11)
    assert (cleared.alarm.id, cleared.alarm.state) == (7, "cleared")


def test_custom_id_allocator() -> None:
    """next_id (e.g. the store's sequence) allocates the ids."""
    ids = iter([100, 101])
    book = AlarmBook(next_id=lambda: next(ids))
    changes = book.sync(active(violation(subject="S1"), violation(subject="S2")), now=1)
    assert [c.alarm.id for c in changes] == [100, 101]


def test_forget_closed_keeps_open_alarms() -> None:
    """forget_closed drops only closed alarms cleared before the cut-off."""
    book = AlarmBook()
    book.sync(active(violation(subject="S1"), violation(subject="S2")), now=1)
    book.ack(1, "duty1", now=2)
    book.sync(active(violation(subject="S2")), now=3)
    assert book.forget_closed(before=10) == 1
    assert [a.id for a in book.all()] == [2]
