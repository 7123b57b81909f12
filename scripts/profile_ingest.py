"""Repeatable measurement of the server's ingest path, for profiling (issue #7).

Two modes, both on the synthetic 100-zone, 300-person centre of server/rules/bench.py and
its realistic message mix, encoded as they come off the wire (topic, JSON bytes):

``inproc``
    The real coordinator pieces (Twin, RuleEngine, AlarmBook, AlarmDesk, SqliteStore in a
    temporary directory, Hub with one connected WebSocket client) fed with batches through
    ``Coordinator.handle_batch``; no broker.  ``--profile`` runs it under pyinstrument
    (``.venv/bin/pip install pyinstrument``) and prints the call tree.

``mqtt``
    A Mosquitto (a private one started here with a queue deep enough that nothing is
    dropped, or ``--broker URL``), a publisher process sending the messages at QoS 1 as
    fast as it can, and in turn: a bare paho subscriber doing ``json.loads`` (the ceiling
    for one Python consumer), then for each receiver (``mqtt.receiver``: ``thread`` and
    ``process``, their order alternating between rounds) the server's MqttLink alone and
    MqttLink + coordinator.  Each figure is messages / (last one handled - first one
    published), and messages per CPU-second of the consumer (the process receiver's child
    process included).

    .venv/bin/python scripts/profile_ingest.py inproc [--messages 50000] [--batch 500]
    .venv/bin/python scripts/profile_ingest.py mqtt [--messages 50000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import pickle
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import msgspec
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from protocol import topics
from protocol.codec import encode
from protocol.messages import Message
from protocol.profiles import load_profiles
from protocol.topics import DeviceMessage, NodeMessage, Topic
from server.alarms.lifecycle import AlarmBook
from server.config import MqttSettings
from server.hub import Hub
from server.ingest import Inbound, MqttLink
from server.metrics import ServerMetrics
from server.rules import bench
from server.rules.engine import RuleEngine
from server.service import Coordinator
from server.store.sqlite import SqliteStore
from server.twin import Twin

Wire = tuple[str, bytes]


# ---------------------------------------------------------------------------- the centre


def _topic_text(topic: Topic) -> str:
    assert topic.node is not None
    if topic.device is None:
        return topics.node_topic(topic.site, topic.node, NodeMessage(topic.message))
    return topics.device_topic(topic.site, topic.node, topic.device,
                               DeviceMessage(topic.message))


def build_centre(messages: int, now: float) -> tuple[Twin, RuleEngine, list[Wire]]:
    """bench.py's centre, born and populated at ``now`` (not its fixed virtual T0, so the
    coordinator's wall clock agrees with it), and its message mix on the wire."""
    profiles = load_profiles()
    site = bench.synthetic_site(profiles)
    twin = Twin(site, profiles)
    engine = RuleEngine(site)
    feed = bench._Feed(site)
    rng = random.Random(42)
    for node in site.nodes:
        twin.apply(*feed.birth(node.id, now), now)
        for d in site.devices_of(node.id):
            twin.apply(*feed.device(d.id, DeviceMessage.BIRTH, now, profile=d.profile,
                                    zone=d.zone), now)
    teams = bench._people()
    for team in teams:
        zone = rng.choice(site.zones).id
        for person in team:
            if person.custody_start is not None:
                person.custody_start += now - bench.T0
            twin.register(person, now)
            twin.apply(*feed.device(f"reader-{zone}", DeviceMessage.EVENT, now,
                                    kind="tag_enter", data={"tag": person.tag}), now)
    engine.evaluate(twin, now)
    shift_ms = int((now - bench.T0) * 1000)
    wire: list[Wire] = []
    for topic, msg, _ in bench._mix(site, feed, teams, messages, rng):
        moved: Message = msgspec.structs.replace(msg, ts=msg.ts + shift_ms)
        wire.append((_topic_text(topic), encode(moved)))
    return twin, engine, wire


class _NullLink:
    """The MQTT link's outbound side, counted instead of published."""

    def __init__(self) -> None:
        self.batches: asyncio.Queue[list[Inbound]] = asyncio.Queue()
        self.acks = 0
        self.commands = 0

    def send_ack(self, node: str, ids: list[str]) -> None:
        self.acks += len(ids)

    def send_command(self, node: str, name: str, **_: Any) -> None:
        self.commands += 1


@contextlib.asynccontextmanager
async def coordinator(twin: Twin, engine: RuleEngine, data_dir: Path,
                      link: Any) -> AsyncIterator[Coordinator]:
    """The coordinator as server/app.py wires it, with a drained WebSocket client."""
    metrics = ServerMetrics()
    hub = Hub(metrics)
    client = hub.connect("profile")

    async def drain() -> None:
        while True:
            await client.queue.get()

    async with SqliteStore(data_dir) as store:
        coord = Coordinator(site=twin.site, speed=1.0, twin=twin, engine=engine,
                            book=AlarmBook(), store=store, link=link, hub=hub,
                            metrics=metrics)
        drainer = asyncio.create_task(drain())
        try:
            yield coord
        finally:
            drainer.cancel()


def _count(metrics: ServerMetrics) -> int:
    total = 0.0
    for name in ("custodywatch_messages_ingested_total", "custodywatch_bad_messages_total"):
        for metric in metrics.registry.collect():
            for sample in metric.samples:
                if sample.name == name:
                    total += sample.value
    return int(total)


# ---------------------------------------------------------------------------- inproc


async def run_inproc(messages: int, batch: int, profile: bool) -> None:
    twin, engine, wire = build_centre(messages, time.time())
    with tempfile.TemporaryDirectory() as tmp:
        link = _NullLink()
        async with coordinator(twin, engine, Path(tmp), link) as coord:
            received = time.time()
            batches = [[Inbound(t, p, received) for t, p in wire[i:i + batch]]
                       for i in range(0, len(wire), batch)]
            profiler = _profiler() if profile else None
            if profiler is not None:
                profiler.start()
            start, cpu = time.perf_counter(), time.process_time()
            for items in batches:
                await coord.handle_batch(items)
            elapsed = time.perf_counter() - start
            cpu = time.process_time() - cpu  # all threads: less sensitive to a busy machine
            if profiler is not None:
                profiler.stop()
            handled = _count(coord.metrics)
    print(f"inproc: {messages} messages in batches of {batch}: {elapsed:.2f} s, "
          f"{messages / elapsed:,.0f} msg/s; CPU {cpu:.2f} s, {messages / cpu:,.0f} msg per "
          f"CPU-second (handled {handled}, acked {link.acks}, rebirths {link.commands})")
    if profiler is not None:
        print(profiler.output_text(unicode=True, color=False, show_all=False))


def _profiler() -> Any:
    try:
        from pyinstrument import Profiler
    except ImportError:
        sys.exit("--profile needs pyinstrument: .venv/bin/pip install pyinstrument")
    return Profiler(interval=0.0005, async_mode="disabled")


# ---------------------------------------------------------------------------- mqtt


@contextlib.contextmanager
def private_broker(directory: Path) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = directory / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "max_queued_messages 1000000\nset_tcp_nodelay true\n")
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(5)


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = n >> 7, n & 0x7F
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + _remaining_length(len(body)) + body


def _text(value: str) -> bytes:
    raw = value.encode()
    return len(raw).to_bytes(2, "big") + raw


def publish_main(url: str, path: str) -> None:
    """The publisher process: every message at QoS 1, pre-encoded as MQTT 3.1.1 PUBLISH
    packets and written in large chunks, so that the broker, not a Python publisher, sets
    the pace (the consumer is what is measured).  Prints the wall time of the first byte
    sent, after the broker acknowledged every message."""
    wire: list[Wire] = pickle.loads(Path(path).read_bytes())
    settings = MqttSettings(url=url)
    sock = socket.create_connection((settings.host, settings.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(_packet(0x10, _text("MQTT") + bytes([4, 0x02, 0, 60])
                         + _text(f"profile-pub-{time.time_ns()}")))
    if sock.recv(4)[:1] != b"\x20":
        sys.exit("publisher: no CONNACK")
    packets = b"".join(_packet(0x32, _text(topic) + ((i % 65535) + 1).to_bytes(2, "big")
                               + payload) for i, (topic, payload) in enumerate(wire))
    expected = 4 * len(wire)  # one PUBACK each

    def read_acks() -> None:
        got = 0
        while got < expected:
            chunk = sock.recv(65536)
            if not chunk:
                return
            got += len(chunk)

    reader = threading.Thread(target=read_acks)
    reader.start()
    start = time.time()
    view = memoryview(packets)
    for i in range(0, len(view), 256 * 1024):
        sock.sendall(view[i:i + 256 * 1024])
    reader.join(300)
    sock.sendall(b"\xe0\x00")
    sock.close()
    print(json.dumps({"start": start}), flush=True)


def _publish(url: str, path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, __file__, "publish", "--broker", url,
                             "--file", str(path)], stdout=subprocess.PIPE, text=True)


def _publish_start(proc: subprocess.Popen[str]) -> float:
    out, _ = proc.communicate(timeout=300)
    return float(json.loads(out.strip().splitlines()[-1])["start"])


class Rate(NamedTuple):
    """Messages per second of wall time, and per CPU-second of the consumer (all its
    threads and processes; what a busy, shared machine disturbs least), and per CPU-second
    of its busiest process (the bound on enough cores: the process receiver spends more
    CPU in all, but in two processes at once)."""

    wall: float
    cpu: float
    busiest: float


def bare_paho(url: str, site: str, path: Path, n: int) -> Rate:
    """The bare consumer: paho MQTT 3.1.1, QoS 1 subscription, json.loads per message."""
    settings = MqttSettings(url=url)
    done = threading.Event()
    subscribed = threading.Event()
    state = {"count": 0, "end": 0.0}

    def on_message(client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        json.loads(message.payload)
        state["count"] += 1
        if state["count"] >= n:
            state["end"] = time.time()
            done.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.on_message = on_message
    client.on_subscribe = lambda *a: subscribed.set()
    client.connect(settings.host, settings.port)
    client.subscribe([(f, 1) for f in topics.uplink_filters(site)])
    client.loop_start()
    subscribed.wait(10)
    cpu = time.process_time()
    proc = _publish(url, path)
    start = _publish_start(proc)
    done.wait(300)
    cpu = time.process_time() - cpu
    client.disconnect()
    client.loop_stop()
    if not done.is_set():
        return Rate(0.0, 0.0, 0.0)
    return Rate(n / (state["end"] - start), n / cpu, n / cpu)


def _cpu(link: MqttLink) -> tuple[float, float]:
    """CPU seconds used so far by this process and by the link's receiver process."""
    pid = link.receiver_pid
    if pid is None:
        return time.process_time(), 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return time.process_time(), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rate(n: int, wall: float, before: tuple[float, float], after: tuple[float, float]) -> Rate:
    server, receiver = after[0] - before[0], after[1] - before[1]
    return Rate(n / wall, n / (server + receiver), n / max(server, receiver))


async def link_only(url: str, site: str, path: Path, n: int, receiver: str) -> Rate:
    """MqttLink feeding the event loop; the batches are only counted."""
    settings = MqttSettings(url=url, receiver=receiver)  # type: ignore[arg-type]
    async with MqttLink(settings, site, b"k" * 32) as link:
        await link.wait_connected()
        await asyncio.sleep(0.3)  # the thread receiver subscribes right after CONNACK
        cpu = _cpu(link)
        proc = _publish(url, path)
        count = 0
        while count < n:
            count += len(await asyncio.wait_for(link.batches.get(), 60))
        end, after = time.time(), _cpu(link)
        start = await asyncio.to_thread(_publish_start, proc)
    return _rate(n, end - start, cpu, after)


async def link_and_coordinator(url: str, path: Path, n: int, receiver: str) -> Rate:
    """MqttLink + the coordinator (rules, alarms, SQLite, hub): the server's ingest."""
    twin, engine, _ = build_centre(n, time.time())
    settings = MqttSettings(url=url, receiver=receiver)  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory() as tmp:
        async with MqttLink(settings, twin.site.id, b"k" * 32) as link, \
                coordinator(twin, engine, Path(tmp), link) as coord:
            await link.wait_connected()
            await asyncio.sleep(0.3)
            task = asyncio.create_task(coord.run())
            cpu = _cpu(link)
            proc = _publish(url, path)
            while _count(coord.metrics) < n:  # noqa: ASYNC110 - a benchmark's probe
                await asyncio.sleep(0.005)
            end, after = time.time(), _cpu(link)
            task.cancel()
            start = await asyncio.to_thread(_publish_start, proc)
    return _rate(n, end - start, cpu, after)


def run_mqtt(messages: int, broker: str | None, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        _, _, wire = build_centre(messages, time.time())
        path = Path(tmp) / "wire.pickle"
        path.write_bytes(pickle.dumps(wire))
        with contextlib.ExitStack() as stack:
            url = broker or stack.enter_context(private_broker(Path(tmp)))
            for r in range(rounds):
                bare = bare_paho(url, bench.SITE_ID, path, messages)
                rates = [("bare paho + json.loads", bare)]
                receivers = ("thread", "process") if r % 2 == 0 else ("process", "thread")
                for receiver in receivers:
                    rates.append((f"MqttLink[{receiver}]", asyncio.run(
                        link_only(url, bench.SITE_ID, path, messages, receiver))))
                for receiver in receivers:
                    rates.append((f"MqttLink[{receiver}] + coordinator", asyncio.run(
                        link_and_coordinator(url, path, messages, receiver))))
                print(f"mqtt round {r + 1}: {messages} messages; msg/s, msg per CPU-second "
                      "(all / busiest process), and each as a ratio to bare paho:", flush=True)
                for name, rate in rates:
                    print(f"  {name:34s} {rate.wall:7,.0f} ({rate.cpu:7,.0f} / "
                          f"{rate.busiest:7,.0f})  {rate.wall / bare.wall:.2f}x "
                          f"({rate.cpu / bare.cpu:.2f}x / {rate.busiest / bare.busiest:.2f}x)",
                          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=("inproc", "mqtt", "publish"))
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=500, help="inproc batch size")
    parser.add_argument("--profile", action="store_true", help="inproc under pyinstrument")
    parser.add_argument("--rounds", type=int, default=1, help="mqtt rounds")
    parser.add_argument("--broker", help="mqtt://host:port (default: a private Mosquitto)")
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    # The synthetic centre's births and alarms are not news.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.mode == "publish":
        publish_main(args.broker, args.file)
    elif args.mode == "inproc":
        asyncio.run(run_inproc(args.messages, args.batch, args.profile))
    else:
        run_mqtt(args.messages, args.broker, args.rounds)


if __name__ == "__main__":
    main()
