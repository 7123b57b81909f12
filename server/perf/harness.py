"""What every bench starts and reads: a broker on a free port, the real server as a
subprocess, its ``/metrics``, and the server process's RSS and CPU (psutil).

``CW_BENCH_SERVER_LOG=INFO`` raises the server's log level (``server.log`` in the bench's
temporary directory) when a run needs explaining.

The server runs exactly as in production — ``custodywatch server --config server.yaml``
with its own data directory (SQLite) in a temporary directory — so a bench measures the
whole path: paho link, decode and validation, twin, rules, alarms, storage, WebSocket.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import psutil
import yaml
from prometheus_client.parser import text_string_to_metric_families

from server.perf.site import BenchSite

MOSQUITTO = "/usr/sbin/mosquitto"
START_TIMEOUT_S = 60.0


class BenchError(RuntimeError):
    """A bench could not run (broker or server would not start, a process died)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float = 15.0, proc: subprocess.Popen[bytes] | None = None
                  ) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise BenchError(f"process exited with {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise BenchError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


def _stop(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


_EMBEDDED = """\
import asyncio, logging, sys
from server.broker import embedded_broker
logging.basicConfig(level=logging.WARNING)
async def main():
    async with embedded_broker(int(sys.argv[1])):
        await asyncio.Event().wait()
asyncio.run(main())
"""


@dataclass
class Broker:
    """Mosquitto (``set_tcp_nodelay true``) on a free port when installed, else the
    embedded amqtt broker (server/broker.py) in its own process."""

    workdir: Path
    embedded: bool = False  # force the amqtt broker even where Mosquitto is installed
    port: int = 0
    kind: str = ""
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> Broker:
        self.port = free_port()
        exe = MOSQUITTO if Path(MOSQUITTO).exists() else shutil.which("mosquitto")
        if exe and not self.embedded:
            conf = self.workdir / "mosquitto.conf"
            # A bench offers load faster than the server may take it: the backlog must
            # wait in the broker, not be dropped (production: 100000, docs/operations.md).
            conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                            "persistence false\nset_tcp_nodelay true\n"
                            "max_queued_messages 1000000\n")
            self.kind = "mosquitto"
            cmd = [exe, "-c", str(conf)]
        else:
            self.kind = "amqtt"
            cmd = [sys.executable, "-c", _EMBEDDED, str(self.port)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, proc=self.proc)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)


@dataclass
class Scrape:
    """The counters of one ``/metrics`` read."""

    at: float
    messages: dict[str, float]  # by message type
    bad: dict[str, float]  # by reason
    events_stored: float
    queue_depth: float
    ws_dropped: float

    @property
    def processed(self) -> float:
        """Messages the coordinator finished with: applied, or refused and counted."""
        return sum(self.messages.values()) + sum(self.bad.values())


def parse_metrics(text: str, at: float = 0.0) -> Scrape:
    scrape = Scrape(at, {}, {}, 0.0, 0.0, 0.0)
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "custodywatch_messages_ingested_total":
                scrape.messages[s.labels.get("type", "?")] = s.value
            elif s.name == "custodywatch_bad_messages_total":
                scrape.bad[s.labels.get("reason", "?")] = s.value
            elif s.name == "custodywatch_events_stored_total":
                scrape.events_stored = s.value
            elif s.name == "custodywatch_ingest_queue_depth":
                scrape.queue_depth = s.value
            elif s.name == "custodywatch_ws_slow_clients_dropped_total":
                scrape.ws_dropped = s.value
    return scrape


@dataclass
class ServerProcess:
    """``custodywatch server`` on a free HTTP port, with the bench's site."""

    workdir: Path
    site: BenchSite
    broker_url: str
    mqtt_keepalive_s: int | None = None  # None: the server's default
    http_port: int = 0
    password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    proc: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def log_file(self) -> Path:
        return self.workdir / "server.log"

    def start(self) -> ServerProcess:
        self.http_port = free_port()
        config: dict[str, Any] = {
            "site": str(self.site.site_file), "profiles_dir": str(self.site.profiles_dir),
            "data_dir": str(self.workdir / "data"), "mqtt": {"url": self.broker_url},
            "http": {"host": "127.0.0.1", "port": self.http_port}}
        if self.mqtt_keepalive_s is not None:
            config["mqtt"]["keepalive_s"] = self.mqtt_keepalive_s
        path = self.workdir / "server.yaml"
        path.write_text(yaml.safe_dump(config), "utf-8")
        env = {**os.environ, "CUSTODYWATCH_ADMIN_PASSWORD": self.password}
        self._log = open(self.log_file, "wb")  # closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "server", "--config", str(path),
             "--log-level", os.environ.get("CW_BENCH_SERVER_LOG", "WARNING")],
            stdout=self._log, stderr=subprocess.STDOUT, env=env)
        self._wait_healthy()
        return self

    def _wait_healthy(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        with httpx.Client(timeout=2.0) as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise BenchError(f"server exited with {self.proc.returncode}; "
                                     f"log: {self.tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if http.get(f"{self.base_url}/healthz").status_code == 200:
                        return
                time.sleep(0.1)
        raise BenchError(f"server not healthy after {START_TIMEOUT_S:.0f} s; log: {self.tail()}")

    def tail(self, chars: int = 2000) -> str:
        try:
            return self.log_file.read_text("utf-8", "replace")[-chars:]
        except OSError:
            return ""

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)
        if self._log is not None:
            self._log.close()


def process_tree(pid: int) -> list[psutil.Process]:
    """The process and its descendants (the server may run its MQTT receiver in a child
    process, ``mqtt.receiver: process``)."""
    root = psutil.Process(pid)
    try:
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return [root]


def signal_tree(pid: int, sig: int) -> None:
    """Send ``sig`` to the process and every descendant (SIGSTOP / SIGCONT a server)."""
    for proc in process_tree(pid):
        with contextlib.suppress(psutil.Error):
            proc.send_signal(sig)


class ResourceSampler:
    """Of one process and its children together: RSS (peak of the sum, sampled every
    ``interval``) and CPU (% of one core over the window; 200 % = two cores busy)."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_rss = 0
        self.processes = 1
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-sampler")
        self._t0 = 0.0
        self._cpu0: dict[int, float] = {}  # pid -> CPU seconds when first seen
        self._cpu: dict[int, float] = {}  # pid -> CPU seconds when last seen
        self.cpu_pct = 0.0
        self.seconds = 0.0

    def _sample(self, first: bool = False) -> None:
        rss = 0
        tree = process_tree(self.pid)
        self.processes = max(self.processes, len(tree))
        for proc in tree:
            with contextlib.suppress(psutil.Error):
                t = proc.cpu_times()
                cpu = float(t.user + t.system)
                # A child born during the window counts from its birth (0 CPU seconds).
                self._cpu0.setdefault(proc.pid, cpu if first else 0.0)
                self._cpu[proc.pid] = cpu
                rss += proc.memory_info().rss
        self.peak_rss = max(self.peak_rss, rss)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._sample(first=True)
        self._thread.start()

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self._stop.set()
        self._thread.join()
        self._sample()
        self.seconds = time.monotonic() - self._t0
        used = sum(self._cpu[pid] - self._cpu0[pid] for pid in self._cpu)
        self.cpu_pct = used / max(self.seconds, 1e-9) * 100

    def __enter__(self) -> ResourceSampler:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def rss_mb(self) -> float:
        return self.peak_rss / 1e6


@contextlib.contextmanager
def broker_and_server(workdir: Path, site: BenchSite) -> Iterator[tuple[Broker, ServerProcess]]:
    """A broker, then the server connected to it; both stopped on exit."""
    broker = Broker(workdir).start()
    server = ServerProcess(workdir, site, broker.url)
    try:
        server.start()
        yield broker, server
    finally:
        server.stop()
        broker.stop()


def machine() -> dict[str, object]:
    """What the figures depend on: cores, and how busy the machine was (1-min load)."""
    return {"cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2)}


def emit(result: dict[str, object], as_json: bool, lines: list[str]) -> None:
    """A bench's output: the human lines, or one JSON object on the last line."""
    if as_json:
        print(json.dumps(result), flush=True)
    else:
        print("\n".join(lines), flush=True)


def quiet_logs() -> None:
    """The bench's own console is for its figures."""
    for name in ("httpx", "httpcore", "websockets"):
        logging.getLogger(name).setLevel(logging.WARNING)
