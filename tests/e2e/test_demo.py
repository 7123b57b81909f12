"""`custodywatch demo`: the whole system from one command, no external service."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, wait_for_port

EXE = Path(sys.executable).parent / "custodywatch"

pytestmark = pytest.mark.e2e


def _wait_healthy(url: str, timeout: float = 30.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=2)
            if response.status_code == 200:
                return response
        except httpx.HTTPError as err:
            last = err
        time.sleep(0.2)
    raise TimeoutError(f"{url} not healthy after {timeout}s ({last})")


def test_demo_starts_simulates_and_stops_cleanly(tmp_path: Path) -> None:
    """The demo prints its URL and login, answers /healthz, brings the simulated reference
    centre online behind the embedded broker, and exits 0 on Ctrl-C (SIGINT)."""
    http_port, mqtt_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k != "CUSTODYWATCH_ADMIN_PASSWORD"}
    process = subprocess.Popen(
        [str(EXE), "demo", "--data-dir", str(tmp_path / "var"), "--http-port", str(http_port),
         "--mqtt-port", str(mqtt_port), "--speed", "30"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{http_port}"
        assert _wait_healthy(f"{base}/healthz").json()["mqtt"] is True
        wait_for_port(mqtt_port)  # the embedded broker
        password = (tmp_path / "var" / "demo-admin-password").read_text().strip()
        token = httpx.post(f"{base}/api/auth/login",
                           json={"username": "admin", "password": password}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        deadline = time.monotonic() + 30
        online = 0
        while time.monotonic() < deadline:
            devices = httpx.get(f"{base}/api/devices", headers=headers).json()
            online = sum(1 for d in devices if d["status"] == "online")
            if online == len(devices):
                break
            time.sleep(0.3)
        assert online == 107, f"only {online} of 107 simulated devices online"
        page = httpx.get(f"{base}/")
        assert page.status_code == 200 and "<html" in page.text.lower()
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output[-3000:]
    assert re.search(rf"http://127\.0\.0\.1:{http_port}/", output), output[:2000]
    assert f"admin / {password}" in output
    assert "Traceback" not in output, output[-3000:]
