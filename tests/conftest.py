"""Shared fixtures: real brokers on free ports, temporary data directories.

Tests that only publish and subscribe may use the machine's Mosquitto (127.0.0.1:1883)
through ``shared_broker``; tests that start a whole stack, kill or restart a broker, or
run in parallel with others that use the same site id get their own ``mqtt_broker``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@dataclass
class Broker:
    host: str
    port: int
    process: subprocess.Popen[bytes] | None = None
    conf: Path | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(5)

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)

    def start(self) -> None:
        assert self.conf is not None
        self.process = subprocess.Popen(["mosquitto", "-c", str(self.conf)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)


def start_mosquitto(directory: Path) -> Broker:
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(exe).exists():
        pytest.fail("mosquitto is not installed (apt-get install -y mosquitto)")
    port = free_port()
    conf = directory / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "max_queued_messages 100000\nset_tcp_nodelay true\n")
    broker = Broker("127.0.0.1", port, conf=conf)
    broker.process = subprocess.Popen([exe, "-c", str(conf)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port)
    return broker


@pytest.fixture
def mqtt_broker(tmp_path: Path) -> Iterator[Broker]:
    """A private Mosquitto on a free port, stopped after the test."""
    broker = start_mosquitto(tmp_path)
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def shared_broker() -> Broker:
    """The machine's Mosquitto on 127.0.0.1:1883 (started before the session / by CI)."""
    try:
        wait_for_port(1883, timeout=2)
    except TimeoutError:
        pytest.fail("no MQTT broker on 127.0.0.1:1883 (.ci/run starts one)")
    return Broker("127.0.0.1", 1883)
