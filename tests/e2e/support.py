"""Helpers for playing scenarios end to end: ``custodywatch server`` and ``custodywatch
simulate`` as subprocesses on a private Mosquitto, judged by the simulator's report.

Imported by tests/e2e/test_rule_scenarios.py, tests/simulators/test_play_e2e.py,
tests/gateway/test_e2e.py and the dashboards' browser tests (no tests of its own).  A
failing run keeps both processes' logs in the test's tmp_path and puts their tails in the
assertion message.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import free_port, wait_for_port

EXE = Path(sys.executable).parent / "custodywatch"
PASSWORD = "e2e-admin-password"


@dataclass
class ServerProcess:
    url: str
    data_dir: Path
    log: Path
    password: str = PASSWORD  # the admin's

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def token(self, user: str = "admin", password: str | None = None) -> str:
        """A bearer token for ``user`` (the admin unless named) from POST /api/auth/login."""
        r = httpx.post(f"{self.url}/api/auth/login", timeout=30,  # argon2 on a busy machine
                       json={"username": user, "password": password or self.password})
        r.raise_for_status()
        return str(r.json()["access_token"])

    def client(self, user: str = "admin", password: str | None = None) -> httpx.Client:
        """An HTTP client on the server logged in as ``user`` (the admin unless named)."""
        return httpx.Client(base_url=self.url, timeout=30, headers={
            "Authorization": f"Bearer {self.token(user, password)}"})


@contextlib.contextmanager
def server_process(tmp_path: Path, broker_url: str, speed: float,
                   password: str = PASSWORD, startup_s: float = 60,
                   ) -> Iterator[ServerProcess]:
    """``custodywatch server`` of the reference site on a free port with its own data
    directory (tmp_path/data) and admin ``password``, yielded once /healthz answers 200
    (its MQTT link is up), stopped afterwards.

    The server generates its command key in the data directory (command.key, which
    ``simulate`` reads), whatever CUSTODYWATCH_COMMAND_KEY the test process has.  A
    server that exits or is not healthy within ``startup_s`` (generous: CI machines run
    many at once) fails the test with its log's tail.
    """
    port = free_port()
    config = tmp_path / "server.yaml"
    data_dir = tmp_path / "data"
    config.write_text(yaml.safe_dump({
        "site": "reference", "data_dir": str(data_dir), "speed": speed,
        "mqtt": {"url": broker_url}, "http": {"host": "127.0.0.1", "port": port}}))
    env = {**os.environ, "CUSTODYWATCH_ADMIN_PASSWORD": password}
    env.pop("CUSTODYWATCH_COMMAND_KEY", None)
    server = ServerProcess(f"http://127.0.0.1:{port}", data_dir, tmp_path / "server.log",
                           password)
    with server.log.open("wb") as out:
        process = subprocess.Popen([str(EXE), "server", "--config", str(config)], env=env,
                                   stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
        try:
            wait_for_port(port, timeout=startup_s)
            _wait_healthy(server, process, startup_s)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def _wait_healthy(server: ServerProcess, process: subprocess.Popen[bytes],
                  timeout: float) -> None:
    """Until /healthz answers 200 (tests only; the product never polls)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode}:\n{server.log_tail()}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    pytest.fail(f"server not healthy after {timeout}s:\n{server.log_tail()}")


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
