"""The coordinator end to end: tag events through MQTT become an alarm on the API and on a
WebSocket client; an operator's ack changes its state; staff returning clears it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from protocol import topics
from protocol.codec import decode
from protocol.messages import ServerState
from server.main import run_server
from tests.conftest import Broker, free_port
from tests.server.test_api_support import (
    ADMIN_PASSWORD,
    FakeNode,
    running_server,
    wait_until,
)

pytestmark = pytest.mark.usefixtures("server_credentials")


async def _next_matching(ws: Any, predicate: Any, within: float = 10.0) -> dict[str, Any]:
    async with asyncio.timeout(within):
        while True:
            message = json.loads(await ws.recv())
            if predicate(message):
                return message


def _unattended(state: str) -> Any:
    return lambda m: (m["type"] == "alarm" and m["alarm"]["rule"] == "unattended_person"
                      and m["alarm"]["state"] == state)


async def test_unattended_person_alarm_end_to_end(tmp_path: Path, mqtt_broker: Broker) -> None:
    """At speed 60, a person in custody entering an interrogation room with no staff
    raises unattended_person (critical, zone and subject set) after the grace; it shows in
    /api/alarms and on a WebSocket client; the ack records who; an officer entering
    clears it."""
    async with running_server(tmp_path, mqtt_broker.url, speed=60) as srv:
        ws_url = srv.base.replace("http", "ws") + f"/api/ws?token={srv.token}"
        async with websockets.connect(ws_url) as ws:
            snapshot = json.loads(await ws.recv())
            assert snapshot["type"] == "snapshot"
            assert len(snapshot["zones"]) == 23 and len(snapshot["devices"]) == 107
            assert snapshot["site"]["speed"] == 60

            intake = {"person": "S1", "sex": "male", "age": 34, "case": "C-001",
                      "custody": "criminal_summons"}
            assert (await srv.post("/api/custody", json=intake)).status_code == 201
            assert (await srv.post("/api/custody/S1/search")).status_code == 200
            officer = {"id": "O1", "role": "officer", "sex": "male"}
            assert (await srv.post("/api/people", json=officer)).status_code == 201

            node = FakeNode(mqtt_broker.port, "edge-interview")
            try:
                node.birth()
                node.device_birth("reader-interrogation-1", "reader")
                node.event("reader-interrogation-1", "tag_enter", {"tag": "wb-S1"})

                pushed = await _next_matching(ws, _unattended("active_unacked"))
                alarm = pushed["alarm"]
                assert alarm["zone"] == "interrogation-1" and alarm["subject"] == "S1"
                assert alarm["severity"] == "critical" and alarm["raised_at"].endswith("Z")
                zone = await _next_matching(ws, lambda m: m["type"] == "zone"
                                            and m["zone"]["id"] == "interrogation-1"
                                            and m["zone"]["status"] == "alarm")
                assert zone["zone"]["occupants"] == ["S1"]
                assert zone["zone"]["severity"] == "critical"

                active = (await srv.get("/api/alarms", params={"active": "true"})).json()
                assert alarm["id"] in [a["id"] for a in active]

                r = await srv.post(f"/api/alarms/{alarm['id']}/ack",
                                   json={"comment": "on my way"})
                assert r.status_code == 200, r.text
                assert r.json()["state"] == "active_acked" and r.json()["acked_by"] == "admin"
                await _next_matching(ws, _unattended("active_acked"))
                assert (await srv.post(f"/api/alarms/{alarm['id']}/ack")).status_code == 409

                node.event("reader-interrogation-1", "tag_enter", {"tag": "badge-O1"})
                await _next_matching(ws, _unattended("cleared"))

                async def cleared() -> bool:
                    got = (await srv.get(f"/api/alarms/{alarm['id']}")).json()
                    return bool(got["state"] == "cleared" and got["cleared_at"])
                await wait_until(cleared, what="alarm cleared in the API")
            finally:
                node.close()


async def test_websocket_requires_auth(tmp_path: Path, mqtt_broker: Broker) -> None:
    """A WebSocket without a token is closed with 4401 before any state is sent."""
    async with running_server(tmp_path, mqtt_broker.url) as srv:
        async with websockets.connect(srv.base.replace("http", "ws") + "/api/ws") as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


def test_run_server_reports_config_errors(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A bad server config is reported as file:line: field and exits 1, nothing starts."""
    bad = tmp_path / "server.yaml"
    bad.write_text("site: reference\nhttp: {port: http}\n")
    assert run_server(bad) == 1
    assert f"{bad}:2: http.port: Input should be a valid integer" in capsys.readouterr().err


def test_sigterm_shuts_down_cleanly(tmp_path: Path, mqtt_broker: Broker) -> None:
    """`custodywatch server` answers /healthz, and on SIGTERM exits 0 after publishing the
    retained offline state."""
    port = free_port()
    config = tmp_path / "server.yaml"
    config.write_text(f"data_dir: {tmp_path / 'var'}\nmqtt: {{url: '{mqtt_broker.url}'}}\n"
                      f"http: {{port: {port}}}\n")
    env = {**os.environ, "CUSTODYWATCH_ADMIN_PASSWORD": ADMIN_PASSWORD}
    proc = subprocess.Popen([sys.executable, "-m", "server.cli", "server", "--config",
                             str(config)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    node = FakeNode(mqtt_broker.port, "edge-intake")
    try:
        _, payload = asyncio.run(node.expect(lambda t, p: t == topics.server_state_topic(
            "reference")))
        assert decode(payload, ServerState).online is False
    finally:
        node.close()
