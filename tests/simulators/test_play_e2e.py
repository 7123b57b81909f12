"""Playing the shared scenarios end to end: ``custodywatch server`` and ``custodywatch
simulate`` as subprocesses on a private Mosquitto, judged by the simulator's report."""

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
SCENARIOS = Path(__file__).resolve().parents[2].parent / "shared" / "scenarios"
PASSWORD = "e2e-admin-password"

pytestmark = pytest.mark.e2e


@contextlib.contextmanager
def _server(tmp_path: Path, broker_url: str, speed: float) -> Iterator[str]:
    port = free_port()
    config = tmp_path / "server.yaml"
    config.write_text(f"site: reference\ndata_dir: {tmp_path / 'data'}\nspeed: {speed}\n"
                      f"mqtt: {{url: '{broker_url}'}}\nhttp: {{port: {port}}}\n")
    process = subprocess.Popen([str(EXE), "server", "--config", str(config)],
                               env={**os.environ, "CUSTODYWATCH_ADMIN_PASSWORD": PASSWORD},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, timeout=20)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def _simulate(tmp_path: Path, broker_url: str, server: str, scenario: str,
              speed: float) -> tuple[int, dict[str, Any]]:
    report = tmp_path / "report.json"
    done = subprocess.run(
        [str(EXE), "simulate", "--scenario", str(SCENARIOS / f"{scenario}.yaml"),
         "--server", server, "--broker", broker_url, "--speed", str(speed),
         "--report", str(report), "--command-key-file", str(tmp_path / "data" / "command.key")],
        env={**os.environ, "CUSTODYWATCH_USER": "admin", "CUSTODYWATCH_PASSWORD": PASSWORD},
        capture_output=True, text=True, timeout=180, check=False)
    assert report.exists(), done.stderr[-2000:]
    return done.returncode, json.loads(report.read_text())


def test_unattended_person_is_raised_and_cleared(mqtt_broker, tmp_path: Path) -> None:
    """Both officers leave: unattended_person is raised in its window and cleared after they
    return; nothing else the scenario rules out is raised; exit status 0."""
    with _server(tmp_path, mqtt_broker.url, 60) as server:
        status, report = _simulate(tmp_path, mqtt_broker.url, server, "unattended-person", 60)
        assert report["passed"], json.dumps(report, indent=1)[:4000]
        assert status == 0
        assert len(report["expectations"]) == 4


def test_compliant_visit_raises_nothing(mqtt_broker, tmp_path: Path) -> None:
    """A visit by the book (played at speed 600) raises none of the rules it names."""
    with _server(tmp_path, mqtt_broker.url, 600) as server:
        status, report = _simulate(tmp_path, mqtt_broker.url, server, "compliant-visit", 600)
        assert report["passed"], json.dumps(report, indent=1)[:4000]
        assert status == 0


def test_speed_mismatch_is_refused(mqtt_broker, tmp_path: Path) -> None:
    """A server at another speed is refused with a clear message (exit 2, no report)."""
    with _server(tmp_path, mqtt_broker.url, 1) as server:
        done = subprocess.run(
            [str(EXE), "simulate", "--scenario", str(SCENARIOS / "unattended-person.yaml"),
             "--server", server, "--broker", mqtt_broker.url],
            env={**os.environ, "CUSTODYWATCH_PASSWORD": PASSWORD,
                 "CUSTODYWATCH_COMMAND_KEY": "k"},
            capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 2
        assert "speed 1 but this run needs 60" in done.stderr
