"""People in custody end to end: a real server (uvicorn, SQLite) on a private Mosquitto, with
a paho client playing the edge nodes whose readers and lockers feed the person's file."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from protocol.profiles import load_profiles
from protocol.site import load_site
from server.custody import age_on, site_today
from server.store.sqlite import SqliteStore
from tests.conftest import Broker
from tests.server.test_api_support import (
    FakeNode,
    RunningServer,
    running_server,
    wait_until,
)
from tests.server.test_custody_records import id_number

pytestmark = pytest.mark.usefixtures("server_credentials")


INTAKE = {"person": "S1", "sex": "male", "age": 34, "case": "C-001",
          "custody": "criminal_summons"}


def _fields(r: httpx.Response) -> dict[str, str]:
    """422 detail as {field: message}."""
    assert r.status_code == 422, (r.status_code, r.text)
    return {".".join(str(p) for p in e["loc"][1:]): e["msg"] for e in r.json()["detail"]}


async def test_intake_refuses_missing_and_contradictory_data(tmp_path: Path,
                                                             mqtt_broker: Broker) -> None:
    """Every refusal is 422 naming the field: no legal basis, an unknown one, age < 0, a
    sex other than male/female, a criminal summons of an 11-year-old, an identity card
    number with a bad check character or contradicting sex and age, a clock starting in
    the future.  Nothing refused is registered."""
    async with running_server(tmp_path, mqtt_broker.url) as srv:
        post = srv.http.post
        no_basis = {k: v for k, v in INTAKE.items() if k != "custody"}
        assert _fields(await post("/api/custody", json=no_basis)) == {
            "custody": "Field required"}
        assert "custody" in _fields(await post("/api/custody",
                                               json={**INTAKE, "custody": "hunch"}))
        assert "age" in _fields(await post("/api/custody", json={**INTAKE, "age": -1}))
        assert "sex" in _fields(await post("/api/custody", json={**INTAKE, "sex": "x"}))
        child = _fields(await post("/api/custody", json={**INTAKE, "age": 11}))
        assert set(child) == {"age"} and "age of criminal responsibility" in child["age"]
        good_id = id_number("19900315", "female")
        bad_check = good_id[:17] + ("0" if good_id[17] != "0" else "1")
        assert set(_fields(await post("/api/custody", json={
            **INTAKE, "id_number": bad_check}))) == {"id_number"}
        both = _fields(await post("/api/custody", json={**INTAKE, "id_number": good_id}))
        assert set(both) == {"sex", "age"} and "contradicts id_number" in both["sex"]
        future = _fields(await post("/api/custody", json={
            **INTAKE, "custody_start": "2099-01-01T00:00:00Z"}))
        assert set(future) == {"custody_start"}
        assert (await srv.get("/api/custody")).json() == []


async def test_conflicts_are_409(tmp_path: Path, mqtt_broker: Broker) -> None:
    """A second active custody of a person, a wristband worn by someone in custody, a staff
    badge or a staff member's id are 409; a released person's wristband may be re-issued,
    and taking them in again keeps their earlier custody in the file."""
    async with running_server(tmp_path, mqtt_broker.url) as srv:
        post = srv.http.post
        assert (await post("/api/custody", json=INTAKE)).status_code == 201
        assert (await post("/api/custody", json=INTAKE)).status_code == 409
        taken = await post("/api/custody", json={**INTAKE, "person": "S2",
                                                 "wristband": "wb-S1"})
        assert taken.status_code == 409 and "in use by S1" in taken.json()["detail"]
        assert (await post("/api/people", json={"id": "O1", "role": "officer",
                                                "sex": "male"})).status_code == 201
        assert (await post("/api/custody", json={**INTAKE, "person": "S3",
                                                 "wristband": "badge-O1"})).status_code == 409
        assert (await post("/api/custody", json={**INTAKE, "person": "O1"})).status_code == 409
        assert (await post("/api/people", json={"id": "O2", "role": "officer", "sex": "male",
                                                "badge": "wb-S1"})).status_code == 409

        assert (await post("/api/custody/S1/release", json={"reason": "done"})).status_code \
            == 200
        reissued = await post("/api/custody", json={**INTAKE, "person": "S2",
                                                    "wristband": "wb-S1"})
        assert reissued.status_code == 201, reissued.text
        again = await post("/api/custody", json={**INTAKE, "wristband": "wb-S1b",
                                                 "custody": "administrative_questioning"})
        assert again.status_code == 201, again.text
        s1 = (await srv.get("/api/custody/S1")).json()
        assert s1["custody"] == "administrative_questioning" and s1["custody_limit_h"] == 8
        assert [c["basis"] for c in s1["past_custody"]] == ["criminal_summons"]
        assert s1["past_custody"][0]["ended_by"] == "release"
        assert (await srv.get("/api/custody/O1")).status_code == 404
        assert (await srv.get("/api/custody/NOBODY")).status_code == 404


async def _walk(node: FakeNode, tag: str, zones: list[str]) -> None:
    for zone in zones:
        node.event(f"reader-{zone}", "tag_enter", {"tag": tag})


async def test_file_has_timeline_clock_belongings_and_actions(tmp_path: Path,
                                                              mqtt_broker: Broker) -> None:
    """The readers build the timeline of zones with entry and exit times; the locker
    events the belongings; the clock has start, limit, deadline and remaining time (site
    seconds at --speed 60); every action is in the file with who did it."""
    async with running_server(tmp_path, mqtt_broker.url, speed=60) as srv:
        age = age_on(date(1990, 3, 15), site_today(load_site("reference", load_profiles()),
                                                   time.time()))
        r = await srv.post("/api/custody", json={
            **INTAKE, "id_number": id_number("19900315", "male"), "age": age, "name": "张三"})
        assert r.status_code == 201, r.text
        intake = r.json()
        assert intake["custody_limit_h"] == 12 and intake["custody_state"] == "running"
        intake_node = FakeNode(mqtt_broker.port, "edge-intake")
        gateway = FakeNode(mqtt_broker.port, "gw-1")
        try:
            intake_node.birth()
            gateway.birth()
            for zone in ("entrance", "body-check-1", "lockers-1"):
                intake_node.device_birth(f"reader-{zone}", "reader")
            intake_node.device_birth("search-body-check-1", "search")
            gateway.device_birth("lockers-lockers-1", "lockers", {"occupied": [], "open": []})
            await _walk(intake_node, "wb-S1", ["entrance", "body-check-1"])
            intake_node.event("search-body-check-1", "search_completed",
                              {"person": "S1", "officer": "O1"})
            await _walk(intake_node, "wb-S1", ["lockers-1"])
            gateway.event("lockers-lockers-1", "locker_stored", {"locker": 7, "person": "S1"},
                          metrics={"occupied": ["7:S1"]})

            async def filed() -> dict[str, Any] | None:
                f = (await srv.get("/api/custody/S1")).json()
                return f if f["belongings"]["lockers"] and len(f["timeline"]) == 3 else None
            record = await wait_until(filed, "timeline and locker in the file")
        finally:
            intake_node.close()
            gateway.close()
    assert [t["zone"] for t in record["timeline"]] == ["entrance", "body-check-1", "lockers-1"]
    first, last = record["timeline"][0], record["timeline"][-1]
    assert first["left"] is not None and first["duration_s"] >= 0
    assert last["left"] is None and last["name"]["en"] == "Lockers"
    assert record["zone"] == "lockers-1" and record["searched"] is True
    assert record["belongings"]["lockers"] == [{"device": "lockers-lockers-1",
                                                "zone": "lockers-1", "locker": "7"}]
    assert record["belongings"]["history"][0]["returned"] is None
    assert record["custody_deadline"] > record["custody_warning_at"] > record["custody_start"]
    assert 0 < record["custody_remaining_s"] <= 12 * 3600
    assert record["name"] == "张三" and record["juvenile"] is False
    assert [a["action"] for a in record["actions"]] == ["custody_intake"]
    assert record["actions"][0]["user"] == "admin"


async def _active(srv: RunningServer, rule: str) -> list[dict[str, Any]]:
    return [a for a in (await srv.get("/api/alarms", params={"active": "true"})).json()
            if a["rule"] == rule]


async def test_outing_transfer_and_tag_check(tmp_path: Path, mqtt_broker: Broker) -> None:
    """An outing is approved once at a time and ended once; a transfer ends custody as a
    transfer; a wristband tamper alarm clears with a tag check, which can bind a new band."""
    async with running_server(tmp_path, mqtt_broker.url, speed=60) as srv:
        post = srv.http.post
        for person in ("S1", "S2"):
            assert (await post("/api/custody", json={**INTAKE, "person": person,
                                                     "case": f"C-{person}"})).status_code == 201
        bad = await post("/api/custody/S1/outing", json={"minutes": 0, "reason": "x"})
        assert set(_fields(bad)) == {"minutes"}
        out = await post("/api/custody/S1/outing", json={"minutes": 30, "reason": "hospital"})
        assert out.status_code == 200 and out.json()["outing"]["reason"] == "hospital"
        assert (await post("/api/custody/S1/outing", json={"minutes": 5, "reason": "again"})
                ).status_code == 409
        back = await post("/api/custody/S1/outing/end")
        assert back.status_code == 200 and back.json()["outing"] is None
        assert (await post("/api/custody/S1/outing/end")).status_code == 409
        assert (await post("/api/custody/NOBODY/outing/end")).status_code == 404

        moved = await post("/api/custody/S2/transfer", json={"to": "看守所", "reason": "拘留"})
        assert moved.status_code == 200
        assert moved.json()["release_kind"] == "transfer" and not moved.json()["in_custody"]
        assert (await post("/api/custody/S2/release")).status_code == 409
        assert set(_fields(await post("/api/custody/S1/transfer", json={"to": "看守所"}))) \
            == {"reason"}
        listed = (await srv.get("/api/custody")).json()
        assert [p["id"] for p in listed] == ["S1"] and listed[0]["zone"] is None
        everyone = (await srv.get("/api/custody", params={"released": "true"})).json()
        assert [p["id"] for p in everyone] == ["S1", "S2"]

        node = FakeNode(mqtt_broker.port, "edge-holding")
        try:
            node.birth()
            node.device_birth("reader-holding-1", "reader")
            node.event("reader-holding-1", "tag_tamper", {"tag": "wb-S1"})
            await wait_until(lambda: _active(srv, "tag_tamper"), "tag_tamper raised")
            checked = await post("/api/custody/S1/tag-check", json={"wristband": "wb-S1-2"})
            assert checked.status_code == 200, checked.text
            assert checked.json()["tag"] == "wb-S1-2"
            assert not checked.json()["tag_alerts"]["tampered"]
            assert await _active(srv, "tag_tamper") == []
        finally:
            node.close()
        s1 = (await srv.get("/api/custody/S1")).json()
        assert [o["reason"] for o in s1["outings"]] == ["hospital"]
        assert s1["outings"][0]["ended"] is not None
        assert [a["action"] for a in s1["actions"]] == [
            "custody_intake", "outing_approved", "outing_ended", "tag_checked"]
        # The old band is free again: it can go to someone else.
        assert (await post("/api/custody", json={**INTAKE, "person": "S3",
                                                 "wristband": "wb-S1"})).status_code == 201


async def test_custody_survives_restart(tmp_path: Path, mqtt_broker: Broker) -> None:
    """A restart keeps people, custody state, outings, transfers and clocks; the audit
    chain verifies and holds every custody action."""
    async with running_server(tmp_path, mqtt_broker.url) as srv:
        post = srv.http.post
        assert (await post("/api/custody", json=INTAKE)).status_code == 201
        assert (await post("/api/custody", json={**INTAKE, "person": "S2",
                                                 "case": "C-2"})).status_code == 201
        assert (await post("/api/people", json={"id": "V1", "role": "visitor",
                                                "sex": "female"})).status_code == 201
        assert (await post("/api/custody/S1/outing", json={"minutes": 60,
                                                           "reason": "hospital"})).is_success
        assert (await post("/api/custody/S2/transfer", json={"to": "看守所",
                                                             "reason": "拘留"})).is_success
        assert (await post("/api/people/V1/checkout")).is_success
        before = (await srv.get("/api/custody/S1")).json()
    async with running_server(tmp_path, mqtt_broker.url) as srv:
        after = (await srv.get("/api/custody/S1")).json()
        s2 = (await srv.get("/api/custody/S2")).json()
        v1 = (await srv.get("/api/people/V1")).json()
        assert (await srv.post("/api/custody/S1/outing/end")).status_code == 200
    moving = ("custody_elapsed_s", "custody_remaining_s")
    assert {k: v for k, v in after.items() if k not in moving} == \
        {k: v for k, v in before.items() if k not in moving}
    assert after["outing"]["reason"] == "hospital" and after["in_custody"]
    assert s2["release_kind"] == "transfer" and s2["transferred_to"] == "看守所"
    assert v1["tag"] is None
    async with SqliteStore(tmp_path) as store:
        assert await store.verify_audit() > 0
        actions = [e.action for e in await store.audit_entries()]
    for action in ("custody_intake", "outing_approved", "custody_transfer",
                   "person_registered", "badge_returned", "outing_ended"):
        assert action in actions
