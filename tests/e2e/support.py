"""Helpers for playing scenarios end to end: ``custodywatch server`` and ``custodywatch
simulate`` as subprocesses on a private Mosquitto, judged by the simulator's report.

Imported by tests/e2e/test_rule_scenarios.py and tests/simulators/test_play_e2e.py (no
tests of its own).  A failing run keeps both processes' logs in the test's tmp_path and
puts their tails in the assertion message.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import free_port, wait_for_port

EXE = Path(sys.executable).parent / "custodywatch"
PASSWORD = "e2e-admin-password"


@dataclass
class ServerProcess:
    url: str
    data_dir: Path
    log: Path

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


@contextlib.contextmanager
def server_process(tmp_path: Path, broker_url: str, speed: float) -> Iterator[ServerProcess]:
    """``custodywatch server`` on a free port with its own data directory."""
    port = free_port()
    config = tmp_path / "server.yaml"
    data_dir = tmp_path / "data"
    config.write_text(f"site: reference\ndata_dir: {data_dir}\nspeed: {speed}\n"
                      f"mqtt: {{url: '{broker_url}'}}\nhttp: {{port: {port}}}\n")
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen([str(EXE), "server", "--config", str(config)],
                                   env={**os.environ, "CUSTODYWATCH_ADMIN_PASSWORD": PASSWORD},
                                   stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for_port(port, timeout=30)
            yield ServerProcess(f"http://127.0.0.1:{port}", data_dir, log)
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


@dataclass
class SimulateRun:
    status: int
    report: dict[str, Any]
    stdout: str
    stderr: str

    def explain(self, server: ServerProcess | None = None) -> str:
        """What to read when a run failed: the summary, the failed expectations, the logs."""
        failed = [e for e in self.report.get("expectations", []) if not e.get("passed")]
        parts = [self.stdout[-3000:], "failed: " + json.dumps(failed, ensure_ascii=False,
                                                              indent=1)[:3000],
                 "errors: " + json.dumps(self.report.get("errors", []), ensure_ascii=False),
                 "simulate stderr: " + self.stderr[-2000:]]
        if server is not None:
            parts.append("server log: " + server.log_tail())
        return "\n".join(parts)


# The rule scenarios use the in-process simulated cameras and recorders: the network video
# devices (simulators/devices/video.py) are exercised by the video tests.
RULE_RUN_ENV = {"CUSTODYWATCH_SIM_VIDEO": "0"}


def simulate(tmp_path: Path, broker_url: str, server: ServerProcess, scenario: Path,
             speed: float | None = None, timeout: float = 240,
             env: dict[str, str] | None = None) -> SimulateRun:
    """Play one scenario file against the server; the report is read back as JSON.
    ``env`` adds to the environment (default: RULE_RUN_ENV)."""
    report = tmp_path / "report.json"
    command = [str(EXE), "simulate", "--scenario", str(scenario), "--server", server.url,
               "--broker", broker_url, "--report", str(report),
               "--command-key-file", str(server.data_dir / "command.key")]
    if speed is not None:
        command += ["--speed", str(speed)]
    done = subprocess.run(
        command, env={**os.environ, **(RULE_RUN_ENV if env is None else env),
                      "CUSTODYWATCH_USER": "admin", "CUSTODYWATCH_PASSWORD": PASSWORD},
        capture_output=True, text=True, timeout=timeout, check=False)
    assert report.exists(), f"no report (exit {done.returncode}):\n{done.stdout[-2000:]}\n" \
                            f"{done.stderr[-3000:]}\nserver log: {server.log_tail()}"
    return SimulateRun(done.returncode, json.loads(report.read_text()), done.stdout,
                       done.stderr)
