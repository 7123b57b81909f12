"""Load generators: processes that publish a realistic uplink mix for the site's nodes.

Each node gets its own MQTT connection (client id ``cw-<site>-<node>``, MQTT 3.1.1,
TCP_NODELAY, the node's death as its Will) and publishes exactly what an edge agent or a
gateway would: its birth, one birth per device, then climate readings, camera heartbeats
(``last_frame_ts`` = the moment of publishing, which ``bench scale`` reads back off the
WebSocket as the ingest lag), recorder, door and smoke status, reader tag events
(DeviceEvent: stored and acknowledged by the server) and node heartbeats — every message
with the node's next sequence number, encoded by protocol.codec, so the server accepts
all of them.  QoS 1 throughout, as the edge agents publish (edge/agent.py).

A publisher process drives its nodes' clients from one thread (paho without its network
thread: a publish is written at once, ``loop(0)`` reads the PUBACKs), paced to a target
rate or as fast as the broker acknowledges (``rate=0``), with at most ``MAX_UNACKED``
messages per connection waiting for their PUBACK.

Control runs over a pipe: the child says ``("ready", births)``, waits for ``"go"``,
publishes for ``seconds``, says ``("done", stats)`` and disconnects cleanly (no Will) on
``"stop"``.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

import paho.mqtt.client as mqtt

from protocol import topics
from protocol.codec import encode, now_ms
from protocol.messages import (
    DeviceBirth,
    DeviceData,
    DeviceDescriptor,
    DeviceEvent,
    Message,
    NodeBirth,
    NodeDeath,
    NodeHeartbeat,
)
from protocol.topics import DeviceMessage, NodeMessage
from protocol.transport import paho_client
from server.perf.harness import BenchError
from server.perf.site import DevicePlan, NodePlan

MAX_UNACKED = 200  # per connection: QoS 1 messages published but not yet PUBACKed
BURST = 50  # messages published between two reads of the sockets

# What each profile reports (initial values are realistic and raise no alarm).
BIRTH_METRICS: dict[str, dict[str, Any]] = {
    "camera": {"online": True, "fps": 25.0, "width": 1920, "height": 1080, "diagnosis": "ok"},
    "env": {"temperature": 22.5, "humidity": 45.0},
    "door": {"open": False, "locked": True, "forced": False},
    "panic": {"pressed": False},
    "smoke": {"smoke": False, "fault": False},
    "recorder": {"recording": False, "segment": "", "bytes_written": 0, "disk_free_mb": 51200},
    "reader": {"tags": [], "tag_count": 0},
    "search": {"in_progress": ""},
    "lockers": {"occupied": [], "open": []},
}
# Relative weights of the messages a device sends (profiles not named send none).
WEIGHTS = {"camera": 3, "env": 3, "reader": 2, "recorder": 1, "door": 1, "smoke": 1}
HEARTBEAT_WEIGHT_PER_DEVICES = 10  # one node heartbeat per this many device messages


class NodeSession:
    """One node's MQTT connection and sequence counter."""

    def __init__(self, host: str, port: int, site: str, node: NodePlan, *, bdseq: int,
                 keepalive: int = 60, qos: int = 1) -> None:
        self.site, self.node, self.bdseq, self.qos = site, node, bdseq, qos
        self.seq = 0
        self.sent = 0
        self.acked = 0
        self.connected = False
        self.token = uuid.uuid4().hex[:8]
        self.client = paho_client(f"cw-{site}-{node.id}")
        self.client.will_set(topics.node_topic(site, node.id, NodeMessage.DEATH),
                             encode(NodeDeath(ts=now_ms(), bdseq=bdseq)), qos=1)
        self.client.on_connect = self._on_connect
        self.client.on_publish = self._on_publish
        self.client.connect(host, port, keepalive=keepalive)

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any,
                    properties: Any) -> None:
        self.connected = not reason_code.is_failure

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason_code: Any,
                    properties: Any) -> None:
        self.acked += 1

    @property
    def unacked(self) -> int:
        return self.sent - self.acked

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def publish(self, topic: str, message: Message) -> None:
        self.client.publish(topic, encode(message), qos=self.qos)
        self.sent += 1

    def births(self) -> int:
        """The node's birth (seq 0), then one birth per device; returns how many."""
        node = self.node
        self.seq = 0
        self.publish(topics.node_topic(self.site, node.id, NodeMessage.BIRTH), NodeBirth(
            ts=now_ms(), seq=0, bdseq=self.bdseq, kind=node.kind,  # type: ignore[arg-type]
            devices=[DeviceDescriptor(d.id, d.profile, d.zone) for d in node.devices],
            heartbeat_s=node.heartbeat_s, software="custodywatch-bench"))
        for d in node.devices:
            metrics = dict(BIRTH_METRICS.get(d.base, {}))
            if d.base == "camera":
                metrics["last_frame_ts"] = now_ms()
            self.publish(self.device_topic(d, DeviceMessage.BIRTH), DeviceBirth(
                ts=now_ms(), seq=self.next_seq(), profile=d.profile, zone=d.zone,
                metrics=metrics))
        return 1 + len(node.devices)

    def device_topic(self, device: DevicePlan, message: DeviceMessage) -> str:
        return topics.device_topic(self.site, self.node.id, device.id, message)

    def event(self, device: DevicePlan, kind: str, data: dict[str, Any] | None = None,
              metrics: dict[str, Any] | None = None) -> None:
        seq = self.next_seq()
        self.publish(self.device_topic(device, DeviceMessage.EVENT), DeviceEvent(
            ts=now_ms(), seq=seq, id=f"{self.token}-{self.node.id[:40]}-{seq}",
            kind=kind, data=data or {}, metrics=metrics or {}))  # type: ignore[arg-type]

    def data(self, device: DevicePlan, metrics: dict[str, Any]) -> None:
        self.publish(self.device_topic(device, DeviceMessage.DATA),
                     DeviceData(ts=now_ms(), seq=self.next_seq(), metrics=metrics))

    def heartbeat(self) -> None:
        self.publish(topics.node_topic(self.site, self.node.id, NodeMessage.HEARTBEAT),
                     NodeHeartbeat(ts=now_ms(), seq=self.next_seq(), uptime_s=1.0))


class Mix:
    """The realistic message mix of one node, drawn from a seeded random stream."""

    def __init__(self, session: NodeSession, rng: random.Random) -> None:
        self.s, self.rng = session, rng
        actions: list[Callable[[], None]] = []
        weights: list[int] = []
        for d in session.node.devices:
            w = WEIGHTS.get(d.base, 0)
            if w:
                actions.append(self._action(d))
                weights.append(w)
        actions.append(session.heartbeat)
        weights.append(max(1, sum(weights) // HEARTBEAT_WEIGHT_PER_DEVICES))
        self.cycle = itertools.cycle(rng.choices(actions, weights, k=4096))
        self.tags_in: dict[str, list[str]] = {}
        self.bytes = 0

    def _action(self, d: DevicePlan) -> Callable[[], None]:
        s, rng = self.s, self.rng
        if d.base == "camera":
            return lambda: s.data(d, {"online": True, "fps": round(rng.uniform(24, 26), 1),
                                      "last_frame_ts": now_ms()})
        if d.base == "env":
            return lambda: s.data(d, {"temperature": round(rng.gauss(22.5, 1.0), 1),
                                      "humidity": round(rng.gauss(45, 5), 1)})
        if d.base == "reader":
            return lambda: self._tag(d)
        if d.base == "recorder":
            return lambda: s.data(d, {"recording": False, "disk_free_mb": 51200})
        if d.base == "door":
            return lambda: s.data(d, {"open": False, "locked": True})
        return lambda: s.data(d, {"smoke": False, "fault": False})

    def _tag(self, d: DevicePlan) -> None:
        present = self.tags_in.setdefault(d.id, [])
        if present and (len(present) > 3 or self.rng.random() < 0.5):
            self.s.event(d, "tag_exit", {"tag": present.pop(0)})
        else:
            tag = f"wb-{self.rng.randrange(1_000_000):06d}"
            present.append(tag)
            self.s.event(d, "tag_enter", {"tag": tag})

    def step(self) -> None:
        next(self.cycle)()


@dataclass(frozen=True)
class LoadSpec:
    host: str
    port: int
    site: str
    nodes: tuple[NodePlan, ...]
    rate: float  # messages per second from this process; 0: as fast as the broker acks
    seconds: float
    bdseq: int = 1
    seed: int = 1
    qos: int = 1


@dataclass
class LoadStats:
    published: int = 0  # acknowledged by the broker (QoS 1) or written (QoS 0)
    births: int = 0
    first: float = 0.0  # time.time() of the first / last load message
    last: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)


def _pump(sessions: list[NodeSession]) -> None:
    for s in sessions:
        s.client.loop(timeout=0)


def _settle(sessions: list[NodeSession], limit: int, timeout: float) -> None:
    """Read the sockets until every connection has at most ``limit`` unacked messages."""
    deadline = time.monotonic() + timeout
    while any(s.unacked > limit for s in sessions) and time.monotonic() < deadline:
        for s in sessions:
            s.client.loop(timeout=0.001 if s.unacked > limit else 0)


def publisher_main(spec: LoadSpec, conn: Connection) -> None:
    """The body of one publisher process (see the module docstring)."""
    sessions = [NodeSession(spec.host, spec.port, spec.site, n, bdseq=spec.bdseq, qos=spec.qos)
                for n in spec.nodes]
    deadline = time.monotonic() + 20
    while not all(s.connected for s in sessions):
        if time.monotonic() > deadline:
            raise RuntimeError("publisher: broker connection timed out")
        for s in sessions:
            s.client.loop(timeout=0.01)
    stats = LoadStats()
    for s in sessions:
        stats.births += s.births()
        _settle(sessions, MAX_UNACKED, 10)
    _settle(sessions, 0, 10)
    conn.send(("ready", stats.births))
    while not conn.poll(0.005):
        _pump(sessions)
    conn.recv()  # "go"
    rng = random.Random(spec.seed)
    mixes = [Mix(s, rng) for s in sessions]
    order = itertools.cycle(range(len(mixes)))
    sent_before = sum(s.sent for s in sessions)
    start = time.perf_counter()
    stats.first = time.time()
    sent = 0
    while True:
        elapsed = time.perf_counter() - start
        if elapsed >= spec.seconds:
            break
        burst = BURST
        if spec.rate > 0:
            burst = min(BURST, int(elapsed * spec.rate) + 1 - sent)
            if burst <= 0:
                _pump(sessions)
                time.sleep(min(0.002, (sent + 1) / spec.rate - elapsed))
                continue
        for _ in range(burst):
            i = next(order)
            mixes[i].step()
            if sessions[i].unacked > MAX_UNACKED:
                _settle([sessions[i]], MAX_UNACKED // 2, 10)
        sent += burst
        _pump(sessions)
    stats.last = time.time()
    _settle(sessions, 0, 30)
    stats.published = sum(s.acked for s in sessions) - sent_before
    conn.send(("done", stats))
    while not conn.poll(0.01):
        _pump(sessions)
    for s in sessions:
        s.client.disconnect()
        s.client.loop(timeout=0.05)


class Publishers:
    """Publisher processes for a set of nodes, split round-robin over ``processes``."""

    def __init__(self, host: str, port: int, site: str, nodes: list[NodePlan], *,
                 rate: float, seconds: float, processes: int = 2, bdseq: int = 1,
                 qos: int = 1) -> None:
        ctx = mp.get_context("spawn")
        processes = max(1, min(processes, len(nodes)))
        self.procs: list[tuple[BaseProcess, Connection]] = []
        for i in range(processes):
            part = tuple(nodes[i::processes])
            spec = LoadSpec(host, port, site, part, rate / processes, seconds, bdseq,
                            seed=1000 * bdseq + i, qos=qos)
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=publisher_main, args=(spec, child), daemon=True,
                               name=f"cw-bench-publisher-{i}")
            proc.start()
            self.procs.append((proc, parent))

    def _recv(self, conn: Connection, proc: BaseProcess, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while not conn.poll(0.05):
            if not proc.is_alive():
                raise BenchError(f"{proc.name} died (exit code {proc.exitcode})")
            if time.monotonic() > deadline:
                raise BenchError(f"{proc.name} did not answer in {timeout:.0f} s")
        return conn.recv()

    def wait_ready(self, timeout: float = 60) -> int:
        """Block until every process has connected and published its births; how many."""
        return sum(self._recv(c, p, timeout)[1] for p, c in self.procs)

    def go(self) -> None:
        for _, conn in self.procs:
            conn.send("go")

    def wait_done(self, timeout: float) -> LoadStats:
        total = LoadStats(first=float("inf"))
        for proc, conn in self.procs:
            _, stats = self._recv(conn, proc, timeout)
            total.published += stats.published
            total.births += stats.births
            total.first = min(total.first, stats.first)
            total.last = max(total.last, stats.last)
        return total

    def stop(self) -> None:
        for _, conn in self.procs:
            try:
                conn.send("stop")
            except OSError:
                pass
        for proc, _ in self.procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join(2)
