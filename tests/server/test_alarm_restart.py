"""Durability: raise three alarms, acknowledge one, shelve one, comment the third, kill the
server process (SIGKILL, no shutdown at all), start it again on the same data directory,
and find everything as it was — states, who acknowledged, the shelf, comments, shifts,
deliveries, a run-time settings change — with the third alarm's escalation still due at
the same time and firing then.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.conftest import Broker, free_port
from tests.server.test_api_support import ADMIN_PASSWORD, COMMAND_KEY, FakeNode

SPEED = 10  # site seconds run 10× faster: the 60 s escalation level is 6 real seconds
STARTUP_S = 60.0  # generous: CI machines run many servers at once


def _wait(check: Any, what: str, within: float = 20.0) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            result = check()
        except httpx.HTTPError:
            result = None
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@contextmanager
def server_process(config: Path, port: int, data_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "CUSTODYWATCH_ADMIN_PASSWORD": ADMIN_PASSWORD,
           "CUSTODYWATCH_COMMAND_KEY": COMMAND_KEY}
    log = (data_dir / "server.log").open("ab")
    proc = subprocess.Popen([sys.executable, "-m", "server.cli", "server", "--config",
                             str(config)], env=env, stdout=log, stderr=log)
    try:
        _wait(lambda: httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
              .status_code == 200, "server up", within=STARTUP_S)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        log.close()


def _client(base: str, user: str, password: str) -> httpx.Client:
    token = httpx.post(f"{base}/api/auth/login", json={"username": user, "password": password},
                       timeout=10).json()["access_token"]
    return httpx.Client(base_url=base, timeout=10, headers={"Authorization": f"Bearer {token}"})


def _alarms(client: httpx.Client) -> dict[str, dict[str, Any]]:
    return {a["subject"]: a for a in client.get("/api/alarms").json()
            if a["rule"] == "door_forced"}


def _rebirth(node: FakeNode) -> None:
    """What the gateway does when the server (re)announces itself online."""
    node.birth()
    for door in ("door-holding-1", "door-holding-2", "door-holding-3"):
        node.device_birth(door, "door", {"open": True, "forced": True})


def test_kill_and_restart_keeps_alarm_management(tmp_path: Path, mqtt_broker: Broker) -> None:
    """Everything survives a SIGKILL; the pending escalation fires on time afterwards."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = tmp_path / "server.yaml"
    config.write_text(yaml.safe_dump({
        "data_dir": str(tmp_path / "data"), "speed": SPEED,
        "mqtt": {"url": mqtt_broker.url}, "http": {"port": port},
        "alarms": {"escalation": {"by_severity": {"critical": {
            "all_guards_after_s": 60, "supervisor_after_s": 600}}}}}))
    node = FakeNode(mqtt_broker.port, "gw-1")
    try:
        with server_process(config, port, tmp_path) as first:
            admin = _client(base, "admin", ADMIN_PASSWORD)
            for user, role in (("duty1", "duty"), ("sup1", "supervisor"), ("g1", "guard"),
                               ("g2", "guard")):
                assert admin.post("/api/users", json={"username": user, "password": "pw-12345678",
                                                      "role": role}).status_code == 201
            duty, sup = _client(base, "duty1", "pw-12345678"), _client(base, "sup1",
                                                                       "pw-12345678")
            assert duty.post("/api/guards/shifts", json={
                "user": "g1", "zones": ["holding-1", "holding-2", "holding-3"]}).status_code == 201
            assert duty.post("/api/guards/shifts", json={
                "user": "g2", "zones": ["corridor-a"]}).status_code == 201
            _rebirth(node)
            alarms = _wait(lambda: len(_alarms(duty)) == 3 and _alarms(duty), "three alarms")
            a1, a2, a3 = (alarms[f"door-holding-{i}"]["id"] for i in (1, 2, 3))
            assert duty.post(f"/api/alarms/{a1}/ack", json={"comment": "seen"}).status_code \
                == 200
            shelved = sup.post(f"/api/alarms/{a2}/shelve", json={
                "reason": "lock under repair", "duration_s": 3600}).json()["shelf"]
            assert duty.post(f"/api/alarms/{a3}/comment", json={"text": "checking"}
                             ).status_code == 200
            settings = sup.get("/api/alarm-settings").json()
            settings["kpis"]["flood_per_10min"] = 7  # a supervisor's run-time change
            assert sup.put("/api/alarm-settings", json=settings).status_code == 200
            before = {a: duty.get(f"/api/alarms/{a}/history").json() for a in (a1, a2, a3)}
            assert before[a3]["escalation"]["running"] and before[a3]["escalation"][
                "level"] == 0
            assert [d["recipient"] for d in before[a3]["deliveries"]] == ["g1"]
            due = before[a3]["escalation"]["next_at"]
            first.send_signal(signal.SIGKILL)  # no shutdown at all
            first.wait(10)

        with server_process(config, port, tmp_path):
            _rebirth(node)
            duty = _client(base, "duty1", "pw-12345678")
            after = {a: duty.get(f"/api/alarms/{a}/history").json() for a in (a1, a2, a3)}
            for a in (a1, a2, a3):
                same = ("id", "state", "acked_by", "acked_at", "raised_at", "shelved",
                        "suppressed_by", "comments")
                assert {k: after[a]["alarm"][k] for k in same} == {
                    k: before[a]["alarm"][k] for k in same}, a
            assert after[a1]["alarm"]["state"] == "active_acked"
            assert after[a2]["alarm"]["shelved"]["by"] == "sup1"
            assert [e["until"] for e in duty.get("/api/shelf").json()] == [shelved["until"]]
            esc_before, esc_after = before[a3]["escalation"], after[a3]["escalation"]
            if esc_after["level"] == 0:  # still due: exactly as it was
                assert esc_after == esc_before
                assert after[a3]["deliveries"] == before[a3]["deliveries"]
            else:  # the restart took longer than the level's time: it fired on resume
                assert esc_after["started"] == esc_before["started"]
            assert duty.get("/api/alarm-settings").json()["kpis"]["flood_per_10min"] == 7
            shifts = {s["user"]: s["zones"] for s in duty.get("/api/guards/shifts").json()}
            assert shifts == {"g1": ["holding-1", "holding-2", "holding-3"],
                              "g2": ["corridor-a"]}

            # The escalation is still due: at its time g2 (every guard on shift) gets it.
            def escalated() -> bool:
                history = duty.get(f"/api/alarms/{a3}/history").json()
                return "g2" in [d["recipient"] for d in history["deliveries"]]
            _wait(escalated, "the resumed escalation", within=30)
            [g2] = [d for d in duty.get(f"/api/alarms/{a3}/history").json()["deliveries"]
                    if d["recipient"] == "g2"]
            assert _epoch(g2["sent_at"]) >= _epoch(due) - 0.01  # not before it was due
            assert _alarms(duty)["door-holding-3"]["state"] == "active_unacked"
            audit = sup_audit(base)
            assert audit.count("server_start") == 2
            assert _client(base, "sup1", "pw-12345678").get(
                "/api/audit/verify").json()["ok"] is True
    finally:
        node.close()


def sup_audit(base: str) -> list[str]:
    return [e["action"] for e in _client(base, "sup1", "pw-12345678").get(
        "/api/audit", params={"limit": 5000}).json()]


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()

