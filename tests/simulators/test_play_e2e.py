"""Playing the shared scenarios end to end: ``custodywatch server`` and ``custodywatch
simulate`` as subprocesses on a private Mosquitto, judged by the simulator's report
(the helpers are tests/e2e/support.py; like the rule scenarios, with the in-process
simulated cameras and recorders: the network video devices have their own tests)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import SHARED
from tests.e2e.support import EXE, PASSWORD, server_process, simulate

SCENARIOS = SHARED / "scenarios"

pytestmark = pytest.mark.e2e


def test_unattended_person_is_raised_and_cleared(mqtt_broker, tmp_path: Path) -> None:
    """Both officers leave: unattended_person is raised in its window and cleared after they
    return; nothing else the scenario rules out is raised; exit status 0."""
    with server_process(tmp_path, mqtt_broker.url, 60) as server:
        run = simulate(tmp_path, mqtt_broker.url, server,
                       SCENARIOS / "unattended-person.yaml", 60)
        assert run.report["passed"], run.explain(server)
        assert run.status == 0
        assert len(run.report["expectations"]) == 4


def test_compliant_visit_raises_nothing(mqtt_broker, tmp_path: Path) -> None:
    """A visit by the book (played at speed 600) raises none of the rules it names."""
    with server_process(tmp_path, mqtt_broker.url, 600) as server:
        run = simulate(tmp_path, mqtt_broker.url, server, SCENARIOS / "compliant-visit.yaml",
                       600)
        assert run.report["passed"], run.explain(server)
        assert run.status == 0


def test_speed_mismatch_is_refused(mqtt_broker, tmp_path: Path) -> None:
    """A server at another speed is refused with a clear message (exit 2, no report)."""
    with server_process(tmp_path, mqtt_broker.url, 1) as server:
        done = subprocess.run(
            [str(EXE), "simulate", "--scenario", str(SCENARIOS / "unattended-person.yaml"),
             "--server", server.url, "--broker", mqtt_broker.url],
            env={**os.environ, "CUSTODYWATCH_PASSWORD": PASSWORD,
                 "CUSTODYWATCH_COMMAND_KEY": "k"},
            capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 2
        assert "speed 1 but this run needs 60" in done.stderr
