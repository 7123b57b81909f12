"""Cameras and recorders end to end: ``custodywatch server`` and ``custodywatch simulate``
as subprocesses on a private Mosquitto.  The simulated centre serves real MJPEG and a real
recorder status API; its agents read them with the real OpenCV camera driver and the real
recorder driver; the server's rules judge what they report."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port, wait_for_port

EXE = Path(sys.executable).parent / "custodywatch"
PASSWORD = "e2e-video-password"

# Real-time video on a 2-core machine: runs alone (`make test` runs the serial tests after
# the parallel ones), so a loaded CPU cannot freeze the simulated pictures for real.
pytestmark = [pytest.mark.e2e, pytest.mark.serial]

SPEED = 2  # a camera heartbeat (5 s) is 2.5 s real: "within 2 heartbeats" is 5 s real

SCENARIO = """
name: camera-and-recorder-faults
site: reference
speed: 2
people:
  S1: {role: suspect, sex: male, age: 30, case: C-1, custody: criminal_summons}
  O1: {role: officer, sex: male}
  O2: {role: officer, sex: female}
steps:
  # Nothing happens for the first 20 s (10 s real): 23 cameras, 7 recorders and 52 Modbus
  # devices starting together can stall the simulated pictures for a few seconds, which
  # the edge rightly diagnoses (stale / frozen) -- not what this test is about.
  - {at: 20s, intake: S1}
  - {at: 20s, move: [S1, O1, O2], to: body-check-1}
  - {at: 22s, search: S1}
  - {at: 24s, move: [S1, O1, O2], to: interrogation-1}
  - {at: 24s, device: recorder-interrogation-1, set: {recording: true}}
  # The picture freezes while S1 is questioned: within 2 heartbeats (10 s).
  - {at: 32s, fault: camera-interrogation-1, kind: frozen}
  - {at: 50s, fault: camera-interrogation-1, kind: restore}
  # The recorder still says "recording" but its segment stops growing.
  - {at: 60s, fault: recorder-interrogation-1, kind: stale}
expect:
  - {alarm: camera_fault, zone: interrogation-1, subject: camera-interrogation-1,
     between: [32s, 42s], severity: critical}
  - {cleared: camera_fault, zone: interrogation-1, by: 60s}
  - {alarm: recording_not_running, zone: interrogation-1, subject: recorder-interrogation-1,
     between: [60s, 90s], severity: critical}
  - {no_alarm: unattended_person}
"""


@contextlib.contextmanager
def _server(tmp_path: Path, broker_url: str, speed: float) -> Iterator[str]:
    port = free_port()
    config = tmp_path / "server.yaml"
    config.write_text(f"site: reference\ndata_dir: {tmp_path / 'data'}\nspeed: {speed}\n"
                      f"mqtt: {{url: '{broker_url}'}}\nhttp: {{port: {port}}}\n")
    env = {**os.environ, "CUSTODYWATCH_ADMIN_PASSWORD": PASSWORD}
    env.pop("CUSTODYWATCH_COMMAND_KEY", None)
    process = subprocess.Popen([str(EXE), "server", "--config", str(config)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, timeout=20)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def _simulate(tmp_path: Path, broker_url: str, server: str, scenario: Path,
              ) -> tuple[int, dict[str, Any], str]:
    report = tmp_path / "report.json"
    done = subprocess.run(
        [str(EXE), "simulate", "--scenario", str(scenario), "--server", server,
         "--broker", broker_url, "--speed", str(SPEED), "--report", str(report),
         "--command-key-file", str(tmp_path / "data" / "command.key")],
        env={**{k: v for k, v in os.environ.items() if k != "CUSTODYWATCH_COMMAND_KEY"},
             "CUSTODYWATCH_USER": "admin", "CUSTODYWATCH_PASSWORD": PASSWORD},
        capture_output=True, text=True, timeout=180, check=False)
    assert report.exists(), done.stderr[-3000:]
    return done.returncode, json.loads(report.read_text()), done.stderr


def test_frozen_camera_and_stalled_recorder(mqtt_broker, tmp_path: Path) -> None:
    """A picture frozen in an occupied interrogation room raises camera_fault within two
    camera heartbeats (scenario time), restore clears it; a recorder that says recording
    while its segment stops growing raises recording_not_running; the alarms' messages
    carry the diagnosis."""
    scenario = tmp_path / "camera-and-recorder-faults.yaml"
    scenario.write_text(SCENARIO)
    with _server(tmp_path, mqtt_broker.url, SPEED) as server:
        status, report, log = _simulate(tmp_path, mqtt_broker.url, server, scenario)
    assert report["passed"], json.dumps(report, indent=1)[:6000] + log[-3000:]
    assert status == 0
    for verdict in report["expectations"]:
        print(verdict)
    alarms = {a["rule"]: a for a in report["alarms"]}
    camera = alarms["camera_fault"]
    recorder = alarms["recording_not_running"]
    print("camera_fault:", camera.get("message_en") or camera)
    print("recording_not_running:", recorder.get("message_en") or recorder)
    text = json.dumps(camera, ensure_ascii=False)
    assert "frozen" in text
    assert "has not grown" in json.dumps(recorder, ensure_ascii=False)
