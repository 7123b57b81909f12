"""Helpers for the server's end-to-end tests: a real server (uvicorn on a free port, the
same ``serve()`` the demo uses) on a private Mosquitto, and a paho client playing a node.

Imported by the tests that start a server (test_api.py, test_custody.py, test_ingest.py,
test_service.py, test_alarm_api.py, test_samples.py, the live-view tests) and by the
dashboards' guard page test (no tests of its own).  The server reads ADMIN_PASSWORD and
COMMAND_KEY from the environment: such a module uses the ``server_credentials`` fixture
(tests/server/conftest.py).
"""

from __future__ import annotations

import asyncio
import queue
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from protocol import topics
from protocol.codec import encode, now_ms
from protocol.messages import (
    DeviceBirth,
    DeviceDescriptor,
    DeviceEvent,
    Message,
    NodeBirth,
)
from protocol.profiles import load_profiles
from protocol.site import load_site
from server.config import build_server_config
from server.main import serve
from tests.conftest import free_port

SITE = "reference"
ADMIN_PASSWORD = "test-admin-password"
COMMAND_KEY = "test-command-key"
T = TypeVar("T")

_REFERENCE = load_site(SITE, load_profiles())


@dataclass
class RunningServer:
    base: str
    http: httpx.AsyncClient  # logged in as admin (bearer token)
    token: str
    data_dir: Path

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.http.get(path, **kw)

    async def post(self, path: str, **kw: Any) -> httpx.Response:
        return await self.http.post(path, **kw)

    async def metric(self, name: str, **labels: str) -> float:
        """The value of one sample on /metrics (``name`` with exactly ``labels``), 0 while
        the server has not written it."""
        text = (await self.http.get("/metrics")).text
        selector = ",".join(f'{k}="{v}"' for k, v in labels.items())
        sample = re.escape(f"{name}{{{selector}}}" if selector else name)
        m = re.search(rf"^{sample} (\S+)$", text, re.M)
        return float(m.group(1)) if m else 0.0


@asynccontextmanager
async def running_server(data_dir: Path, broker_url: str, speed: float = 1.0,
                         ) -> AsyncIterator[RunningServer]:
    port = free_port()
    config = build_server_config(data_dir=data_dir, speed=speed, mqtt={"url": broker_url},
                                 http={"port": port})
    ready, stop = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(serve(config, ready, stop), name="test-server")
    waiter = asyncio.create_task(ready.wait())
    await asyncio.wait({task, waiter}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()  # raises the start failure
    assert ready.is_set(), "server did not start"
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            await wait_until(lambda: _healthy(client), what="MQTT link up")
            r = await client.post("/api/auth/login",
                                  json={"username": "admin", "password": ADMIN_PASSWORD})
            assert r.status_code == 200, r.text
            token = r.json()["access_token"]
            async with httpx.AsyncClient(base_url=base, timeout=10,
                                         headers={"Authorization": f"Bearer {token}"}) as http:
                yield RunningServer(base, http, token, data_dir)
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


async def _healthy(client: httpx.AsyncClient) -> bool:
    return (await client.get("/healthz")).status_code == 200


async def wait_until(check: Callable[[], Awaitable[T]], what: str,
                     within: float = 10.0) -> T:
    """Wait for an asynchronous condition (tests only; the product never polls)."""
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


class FakeNode:
    """A paho client that speaks for one node of the reference site (publishes births,
    events; records what the server sends to the node)."""

    def __init__(self, broker_port: int, node: str) -> None:
        self.node = node
        self.seq = 0
        self.received: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-{node}-"
                                  f"{uuid.uuid4().hex[:6]}")
        self.client.on_message = lambda c, u, m: self.received.put((m.topic, bytes(m.payload)))
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.client.connect("127.0.0.1", broker_port)
        self.client.loop_start()
        self.client.subscribe([(f, 1) for f in topics.downlink_filters(SITE, node)])
        assert subscribed.wait(5), "no SUBACK"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def next_seq(self) -> int:
        seq, self.seq = self.seq, self.seq + 1
        return seq

    def publish_raw(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def publish(self, topic: str, message: Message) -> None:
        self.publish_raw(topic, encode(message))

    def birth(self, bdseq: int = 0) -> None:
        self.seq = 0
        devices = [DeviceDescriptor(d.id, d.profile, d.zone) for d in _REFERENCE.devices_of(
            self.node)]
        self.publish(topics.node_topic(SITE, self.node, topics.NodeMessage.BIRTH),
                     NodeBirth(ts=now_ms(), seq=self.next_seq(), bdseq=bdseq, kind="edge",
                               devices=devices, heartbeat_s=10))

    def device_birth(self, device: str, profile: str, metrics: dict[str, Any] | None = None,
                     ) -> None:
        zone = next(d.zone for d in _REFERENCE.devices_of(self.node) if d.id == device)
        self.publish(topics.device_topic(SITE, self.node, device, topics.DeviceMessage.BIRTH),
                     DeviceBirth(ts=now_ms(), seq=self.next_seq(), profile=profile, zone=zone,
                                 metrics=metrics or {}))

    def event(self, device: str, kind: str, data: dict[str, Any] | None = None,
              metrics: dict[str, Any] | None = None, event_id: str | None = None) -> str:
        """Publish an event (a new id unless ``event_id`` replays an earlier one)."""
        event_id = event_id or uuid.uuid4().hex
        self.publish(topics.device_topic(SITE, self.node, device, topics.DeviceMessage.EVENT),
                     DeviceEvent(ts=now_ms(), seq=self.next_seq(), id=event_id,
                                 kind=kind, data=data or {},  # type: ignore[arg-type]
                                 metrics=metrics or {}))
        return event_id

    async def expect(self, match: Callable[[str, bytes], bool], within: float = 10.0,
                     ) -> tuple[str, bytes]:
        """The first message sent to this node that ``match``es (others are skipped)."""
        deadline = time.monotonic() + within
        while (left := deadline - time.monotonic()) > 0:
            try:
                topic, payload = await asyncio.to_thread(self.received.get, True, min(left, 0.5))
            except queue.Empty:
                continue
            if match(topic, payload):
                return topic, payload
        raise AssertionError(f"node {self.node}: no expected message within {within}s")
