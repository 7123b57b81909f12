"""Alarm management end to end: a real server on a private Mosquitto, a node playing the
gateway, guard terminals on MQTT, and operators on the HTTP API.  Covers shelving and
comments, maintenance, audited commands, guard alerts with receipts, bad input (clear 4xx,
nothing changed, the attempt audited), duplicate and concurrent raises, and the KPIs."""

from __future__ import annotations

import asyncio
import queue
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from protocol import topics
from protocol.codec import decode, encode, now_ms
from protocol.messages import DeviceData, GuardAlert, GuardReceipt
from tests.conftest import Broker
from tests.server.test_api_support import (
    SITE,
    FakeNode,
    RunningServer,
    running_server,
    wait_until,
)

USERS = {"duty1": "duty", "g1": "guard", "g2": "guard", "sup1": "supervisor", "tech1": "tech"}
PASSWORD = "password-123"


pytestmark = pytest.mark.usefixtures("server_credentials")


class GuardTerminal:
    """A dedicated guard terminal: receives GuardAlerts, sends GuardReceipts."""

    def __init__(self, port: int, guard: str) -> None:
        self.guard = guard
        self.alerts: queue.Queue[GuardAlert] = queue.Queue()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                  client_id=f"terminal-{guard}-{uuid.uuid4().hex[:6]}")
        self.client.on_message = lambda c, u, m: self.alerts.put(
            decode(bytes(m.payload), GuardAlert))
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe(topics.guard_alert_topic(SITE, guard), qos=1)
        assert subscribed.wait(5)

    async def next_alert(self, within: float = 10) -> GuardAlert:
        return await asyncio.to_thread(self.alerts.get, True, within)

    def receipt(self, alarm: int, step: str, note: str = "") -> None:
        self.client.publish(topics.guard_receipt_topic(SITE, self.guard),
                            encode(GuardReceipt(ts=now_ms(), alarm=alarm, step=step,  # type: ignore[arg-type]
                                                note=note)), qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@asynccontextmanager
async def staffed_server(data_dir: Path, broker: Broker,
                         ) -> AsyncIterator[tuple[RunningServer, dict[str, httpx.AsyncClient]]]:
    """A server with the USERS created, logged in, and g1 / g2 on shift for holding-1 / -2."""
    async with running_server(data_dir, broker.url) as srv:
        clients: dict[str, httpx.AsyncClient] = {}
        try:
            for user, role in USERS.items():
                r = await srv.post("/api/users", json={"username": user, "password": PASSWORD,
                                                       "role": role})
                assert r.status_code == 201, r.text
                token = (await srv.http.post("/api/auth/login", json={
                    "username": user, "password": PASSWORD})).json()["access_token"]
                clients[user] = httpx.AsyncClient(base_url=srv.base, timeout=10, headers={
                    "Authorization": f"Bearer {token}"})
            for guard, zone in (("g1", "holding-1"), ("g2", "holding-2")):
                r = await clients["duty1"].post("/api/guards/shifts",
                                                json={"user": guard, "zones": [zone]})
                assert r.status_code == 201, r.text
            yield srv, clients
        finally:
            for client in clients.values():
                await client.aclose()


def force_door(node: FakeNode, door: str) -> None:
    node.event(door, "door_forced", metrics={"forced": True, "open": True})


async def alarm_of(srv: RunningServer, rule: str, subject: str) -> dict[str, Any]:
    async def found() -> dict[str, Any] | None:
        for a in (await srv.get("/api/alarms")).json():
            if a["rule"] == rule and a["subject"] == subject:
                return a  # type: ignore[no-any-return]
        return None
    return await wait_until(found, what=f"{rule} alarm on {subject}")


async def audit_actions(srv: RunningServer) -> list[str]:
    r = await srv.get("/api/audit", params={"limit": 5000})
    assert r.status_code == 200, r.text
    return [e["action"] for e in r.json()]


async def test_guard_terminal_alert_receipt_and_ack(tmp_path: Path, mqtt_broker: Broker) -> None:
    """A forced door in holding-1 reaches g1's MQTT terminal (zone, what to do); the
    terminal's receipt marks it delivered; its ``acknowledged`` acknowledges the alarm as
    g1, and the escalation stops."""
    async with staffed_server(tmp_path, mqtt_broker) as (srv, _):
        terminal = GuardTerminal(mqtt_broker.port, "g1")
        node = FakeNode(mqtt_broker.port, "gw-1")
        try:
            node.birth()
            node.device_birth("door-holding-1", "door", {"open": False, "forced": False})
            force_door(node, "door-holding-1")
            alert = await terminal.next_alert()
            assert (alert.rule, alert.zone, alert.level) == ("door_forced", "holding-1", 0)
            assert alert.todo_en and alert.severity == "critical"
            terminal.receipt(alert.alarm, "delivered")

            async def delivered() -> bool:
                [d] = (await srv.get("/api/guards/deliveries",
                                     params={"alarm": alert.alarm})).json()
                return bool(d["delivered_at"] and d["channels"] == ["mqtt"])
            await wait_until(delivered, what="delivery receipt")
            terminal.receipt(alert.alarm, "acknowledged", "on my way")

            async def acked() -> bool:
                a = (await srv.get(f"/api/alarms/{alert.alarm}")).json()
                return bool(a["acked_by"] == "g1")
            await wait_until(acked, what="ack from the terminal")
            history = (await srv.get(f"/api/alarms/{alert.alarm}/history")).json()
            assert history["escalation"]["running"] is False
            assert history["escalation"]["stop_reason"] == "acknowledged"
            assert [t["action"] for t in history["transitions"]][:2] == ["raised", "acked"]
        finally:
            node.close()
            terminal.close()


async def test_operator_actions_and_bad_input(tmp_path: Path, mqtt_broker: Broker) -> None:
    """Bad input gets a clear 4xx, changes nothing, and is audited; shelving, comments,
    maintenance (suppression by design), commands and a settings change are audited; the
    audit chain verifies; the KPIs answer."""
    async with staffed_server(tmp_path, mqtt_broker) as (srv, c):
        node = FakeNode(mqtt_broker.port, "gw-1")
        try:
            node.birth()
            for door in ("door-holding-1", "door-holding-2"):
                node.device_birth(door, "door", {"open": False, "forced": False})
            force_door(node, "door-holding-1")
            alarm = await alarm_of(srv, "door_forced", "door-holding-1")
            alarm_id = alarm["id"]

            # Bad input: unknown alarm, a guard on another zone's alarm, shelving policy.
            r = await c["duty1"].post("/api/alarms/999999/ack", json={})
            assert r.status_code == 404 and "999999" in r.json()["detail"]
            r = await c["g2"].post(f"/api/alarms/{alarm_id}/ack", json={})
            assert r.status_code == 403 and "holding-1" in r.json()["detail"]
            r = await c["g2"].post(f"/api/guard/alerts/{alarm_id}/arrived", json={})
            assert r.status_code == 403
            r = await c["duty1"].post(f"/api/alarms/{alarm_id}/shelve",
                                      json={"duration_s": 600})
            assert r.status_code == 422 and "reason" in r.json()["detail"]
            r = await c["duty1"].post(f"/api/alarms/{alarm_id}/shelve",
                                      json={"duration_s": 7200, "reason": "lock fault"})
            assert r.status_code == 422 and "at most" in r.json()["detail"]
            r = await c["g1"].post(f"/api/alarms/{alarm_id}/shelve",
                                   json={"duration_s": 60, "reason": "lock fault"})
            assert r.status_code == 403
            unchanged = (await srv.get(f"/api/alarms/{alarm_id}")).json()
            assert unchanged["state"] == "active_unacked" and unchanged["shelved"] is None

            # Comment and shelve / unshelve.
            r = await c["duty1"].post(f"/api/alarms/{alarm_id}/comment",
                                      json={"text": "calling the locksmith"})
            assert r.status_code == 200 and r.json()["comments"][-1]["by"] == "duty1"
            r = await c["sup1"].post(f"/api/alarms/{alarm_id}/shelve",
                                     json={"duration_s": 600, "reason": "lock under repair"})
            assert r.status_code == 200, r.text
            assert r.json()["alarm"]["shelved"]["by"] == "sup1"
            assert r.json()["alarm"]["annunciated"] is False
            assert [e["subject"] for e in (await srv.get("/api/shelf")).json()] == [
                "door-holding-1"]
            r = await c["duty1"].post(f"/api/alarms/{alarm_id}/unshelve")
            assert r.status_code == 200 and r.json()["shelved"] is None
            assert (await c["duty1"].post(f"/api/alarms/{alarm_id}/unshelve")).status_code \
                == 409

            # Maintenance: a door in maintenance raises a suppressed alarm.
            r = await c["tech1"].put("/api/maintenance/device/door-holding-2",
                                     json={"reason": "replacing the controller"})
            assert r.status_code == 200, r.text
            assert (await c["duty1"].put("/api/maintenance/device/door-holding-2",
                                         json={"reason": "x"})).status_code == 403
            assert (await c["tech1"].put("/api/maintenance/zone/nowhere",
                                         json={"reason": "x"})).status_code == 404
            force_door(node, "door-holding-2")
            suppressed = await alarm_of(srv, "door_forced", "door-holding-2")
            assert suppressed["suppressed_by"] == "device:door-holding-2"
            devices = {d["id"]: d for d in (await srv.get("/api/devices")).json()}
            assert devices["door-holding-2"]["status"] == "maintenance"
            assert not (await srv.get("/api/guards/deliveries",
                                      params={"alarm": suppressed["id"]})).json()

            # An audited command, and a settings change.
            r = await c["tech1"].post("/api/devices/door-holding-1/commands",
                                      json={"name": "reset_alarm"})
            assert r.status_code == 202, r.text
            await node.expect(lambda t, p: t.endswith("/cmd") and b"reset_alarm" in p)
            assert (await c["tech1"].post("/api/devices/nope/commands",
                                          json={"name": "reboot"})).status_code == 404
            # A command the profile lacks, or parameters outside its spec: 422, naming why.
            for body, why in (({"name": "format"}, "has no command 'format'"),
                              ({"name": "unlock", "params": {"duration_s": 9999}},
                               "duration_s: 9999 is outside 1..600"),
                              ({"name": "unlock", "params": {"duration_s": "long"}},
                               "duration_s: expected int"),
                              ({"name": "lock", "params": {"force": True}},
                               "unknown parameter 'force'")):
                r = await c["tech1"].post("/api/devices/door-holding-1/commands", json=body)
                assert r.status_code == 422 and why in r.json()["detail"], r.text
            settings = (await srv.get("/api/alarm-settings")).json()
            settings["escalation"]["default"]["all_guards_after_s"] = 45
            r = await c["sup1"].put("/api/alarm-settings", json=settings)
            assert r.status_code == 200, r.text
            assert (await c["duty1"].put("/api/alarm-settings", json=settings)).status_code \
                == 403
            settings["shelving"]["max_s_by_role"] = {"nobody": 1}
            assert (await c["sup1"].put("/api/alarm-settings", json=settings)).status_code \
                == 422

            # The guard's own view: their alert, and one tap to acknowledge.
            mine = (await c["g1"].get("/api/guard/alerts")).json()
            assert [a["id"] for a in mine] == [alarm_id]
            r = await c["g1"].post(f"/api/guard/alerts/{alarm_id}/acknowledged",
                                   json={"note": "there in 1 min"})
            assert r.status_code == 200 and r.json()["acked_by"] == "g1"

            actions = await audit_actions(srv)
            for expected in ("login", "user_create", "shift_start", "alarm_ack_refused",
                             "guard_arrived_refused", "alarm_shelve_refused", "alarm_comment",
                             "alarm_shelve", "alarm_unshelve", "alarm_unshelve_refused",
                             "maintenance_start", "maintenance_start_refused", "command",
                             "command_refused", "config_change", "config_change_refused",
                             "alarm_ack", "server_start"):
                assert expected in actions, expected
            verified = (await c["sup1"].get("/api/audit/verify")).json()
            assert verified["ok"] is True and verified["entries"] >= len(actions)

            kpis = (await c["sup1"].get("/api/kpis", params={"hours": 1})).json()
            assert kpis["activations"] >= 2 and kpis["suppressed"] >= 1
            assert kpis["time_to_ack"]["count"] == 1
            assert {"consoles", "standing", "chattering", "top_sources", "by_shift",
                    "by_day"} <= set(kpis)
            assert (await c["g1"].get("/api/kpis")).status_code == 403
        finally:
            node.close()


async def test_duplicate_and_concurrent_raises_make_one_alarm(tmp_path: Path,
                                                              mqtt_broker: Broker) -> None:
    """The same condition reported 60 times at once (events and data, back to back) while
    five operators acknowledge concurrently: one alarm, one successful ack (the others
    409), and a repeat after the ack still folds into the same alarm."""
    async with staffed_server(tmp_path, mqtt_broker) as (srv, c):
        node = FakeNode(mqtt_broker.port, "gw-1")
        try:
            node.birth()
            node.device_birth("door-holding-3", "door", {"open": False, "forced": False})
            topic = topics.device_topic(SITE, "gw-1", "door-holding-3",
                                        topics.DeviceMessage.DATA)
            for _ in range(30):
                force_door(node, "door-holding-3")
                node.publish(topic, DeviceData(ts=now_ms(), seq=node.next_seq(),
                                               metrics={"forced": True}))
            alarm = await alarm_of(srv, "door_forced", "door-holding-3")
            results = await asyncio.gather(*(
                c[user].post(f"/api/alarms/{alarm['id']}/ack", json={})
                for user in ("duty1", "sup1", "duty1", "sup1", "duty1")))
            assert sorted(r.status_code for r in results) == [200, 409, 409, 409, 409]
            force_door(node, "door-holding-3")
            await asyncio.sleep(0.3)
            same = [a for a in (await srv.get("/api/alarms")).json()
                    if a["rule"] == "door_forced" and a["subject"] == "door-holding-3"]
            assert [a["id"] for a in same] == [alarm["id"]]
            assert same[0]["count"] == 1 and same[0]["state"] == "active_acked"
        finally:
            node.close()
