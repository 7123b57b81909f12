"""The edge agent: one MQTT session owner for a node and the drivers it hosts.

Session (Sparkplug-like, DESIGN.md "Wire protocol principles"):

* each connection gets a new ``bdseq`` (persisted in ``state_dir/bdseq``); the MQTT Will is
  ``NodeDeath(bdseq)`` so a late Will of an old session is recognisable;
* on connect: ``NodeBirth`` (seq 0) then one ``DeviceBirth`` per device, then every event
  still in the disk outbox and the data buffered while disconnected, flagged ``hist``;
* ``seq`` +1 on every publish of the session; a rebirth restarts it at 0;
* periodic ``NodeHeartbeat`` and per-device full ``DeviceData``; driver changes are
  reported by exception as they come (no polling);
* events go to the outbox before they are published and leave it on the server's
  ``EventAck``;
* downlink: the retained server state (online again / new server session -> rebirth),
  event acks, and signed commands (edge/commands.py), each answered with a CommandResult;
* a clean shutdown publishes ``NodeDeath`` itself before disconnecting.

One lock orders the publications that must not interleave (births and replays before any
live message); seq numbers are taken right before paho's synchronous publish call, so the
order on the wire is the seq order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal

import aiomqtt

from edge.commands import CommandGate
from edge.config import EdgeSetup, parse_broker_url
from edge.drivers.base import Availability, Driver, DriverEvent, DriverUpdate, MetricsChanged
from edge.errors import OutboxError
from edge.outbox import Outbox, StoredEvent
from protocol.codec import decode_for_topic, encode, now_ms
from protocol.errors import ProtocolError
from protocol.messages import (
    Command,
    CommandResult,
    DeviceBirth,
    DeviceData,
    DeviceDescriptor,
    DeviceEvent,
    DeviceLost,
    EventAck,
    Message,
    NodeBirth,
    NodeDeath,
    NodeHeartbeat,
    ServerState,
)
from protocol.timing import scaled_interval
from protocol.topics import (
    DeviceMessage,
    NodeMessage,
    device_topic,
    downlink_filters,
    node_topic,
    parse_topic,
)
from protocol.transport import NO_DELAY_OPTION

log = logging.getLogger(__name__)

SOFTWARE = "custodywatch-edge/0.1"


@dataclass(frozen=True, slots=True)
class AgentOptions:
    site: str
    node: str
    broker: str = "mqtt://127.0.0.1:1883"
    state_dir: Path = Path("./var/edge")
    kind: Literal["edge", "gateway"] = "edge"
    heartbeat_s: float = 10.0  # the node's heartbeat in site seconds (scaled by speed)
    speed: float = 1.0
    keepalive_s: int = 10
    command_key: bytes | None = field(default=None, repr=False)
    backoff_min_s: float = 0.5
    backoff_max_s: float = 30.0
    max_buffered_data: int = 10_000  # data reports kept while disconnected (oldest dropped)
    software: str = SOFTWARE

    @classmethod
    def from_setup(cls, setup: EdgeSetup) -> AgentOptions:
        cfg = setup.config
        node = next(n for n in setup.site.nodes if n.id == cfg.node)
        return cls(site=setup.site.id, node=node.id, broker=cfg.broker,
                   state_dir=setup.state_dir, kind=node.kind, heartbeat_s=node.heartbeat_s,
                   speed=cfg.speed, keepalive_s=cfg.keepalive_s, command_key=setup.command_key)


class _Link:
    """One MQTT connection and the event set when it is gone.

    aiomqtt leaves a QoS 1 publish waiting for its PUBACK until its timeout even when the
    connection has dropped; racing every publish against ``lost`` frees the lock at once so
    the next session's births are not held up behind a dead socket."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self.lost = asyncio.Event()

    async def publish(self, topic: str, payload: bytes) -> None:
        # A task's first step runs in creation order, so paho sees publishes in the order
        # they were started (== seq order), even though each waits for its PUBACK here.
        sending = asyncio.create_task(self.client.publish(topic, payload, qos=1))
        lost = asyncio.create_task(self.lost.wait())
        try:
            await asyncio.wait({sending, lost}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:  # cancelled: do not leave the publish behind
            sending.cancel()
            raise
        finally:
            lost.cancel()
        if not sending.done():
            sending.cancel()
            raise aiomqtt.MqttError("connection lost while publishing")
        sending.result()


class _SessionEnd(Exception):
    """Raised inside a session's task group to end it cleanly (shutdown)."""


class EdgeAgent:
    """``async with EdgeAgent(options, drivers) as agent:`` runs the node until exit."""

    def __init__(self, options: AgentOptions, drivers: Sequence[Driver]) -> None:
        self.options = options
        self.drivers = {d.id: d for d in drivers}
        self._host, self._port = parse_broker_url(options.broker)
        self._updates: asyncio.Queue[tuple[Driver, DriverUpdate] | None] = asyncio.Queue()
        self._buffered: deque[tuple[str, MetricsChanged]] = deque(
            maxlen=options.max_buffered_data)
        self._gate = CommandGate(options.command_key)
        self._lock = asyncio.Lock()
        self._link: _Link | None = None  # set while connected and born
        self._seq = 0
        self.bdseq = 0
        self._server_online: bool | None = None
        self._server_session = ""
        self._stopping = asyncio.Event()
        self.connected = asyncio.Event()  # set once births are out, cleared on disconnect
        self._started = time.monotonic()
        self._outbox: Outbox | None = None
        self._main: asyncio.Task[None] | None = None
        self._pump_task: asyncio.Task[None] | None = None
        for d in drivers:
            d.attach(self._intake)

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> EdgeAgent:
        self.options.state_dir.mkdir(parents=True, exist_ok=True)
        self._outbox = await asyncio.to_thread(Outbox, self.options.state_dir / "outbox.sqlite")
        self._main = asyncio.create_task(self._supervise(), name=f"edge:{self.options.node}")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    async def stop(self) -> None:
        """Publish what the drivers already reported, then NodeDeath, then disconnect."""
        if self._main is None:
            return
        self._updates.put_nowait(None)
        if self._pump_task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._pump_task), 5)
        self._stopping.set()
        main = self._main
        try:
            await asyncio.wait_for(asyncio.shield(main), 10)
        except TimeoutError:
            log.warning("node %s: shutdown timed out; abandoning the session", self.options.node)
            main.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await main
        finally:
            self._main = None
            if self._outbox is not None:
                self._outbox.close()

    def _intake(self, driver: Driver, update: DriverUpdate) -> None:
        self._updates.put_nowait((driver, update))

    async def wait_connected(self, within_s: float = 10.0) -> None:
        await asyncio.wait_for(self.connected.wait(), within_s)

    @property
    def outbox(self) -> Outbox:
        assert self._outbox is not None, "use the agent as an async context manager"
        return self._outbox

    async def _supervise(self) -> None:
        async with asyncio.TaskGroup() as tg:
            self._pump_task = tg.create_task(self._pump(), name=f"{self.options.node}:pump")
            tg.create_task(self._connection_loop(), name=f"{self.options.node}:connection")

    # ------------------------------------------------------------------ connection

    async def _connection_loop(self) -> None:
        attempt = 0
        while not self._stopping.is_set():
            failed: Exception | None = None
            try:
                await self._session()
            except* aiomqtt.MqttError as group:
                failed = group.exceptions[0]
            self._link = None
            self.connected.clear()
            if failed is None or self._stopping.is_set():
                break
            delay = min(self.options.backoff_max_s, self.options.backoff_min_s * 2 ** attempt)
            delay *= random.uniform(0.5, 1.0)  # jitter: a restarted broker is not stampeded
            if attempt == 0:
                log.warning("node %s: broker connection lost (%s); reconnecting",
                            self.options.node, failed)
            else:
                log.debug("node %s: reconnect attempt %d failed (%s); next in %.1fs",
                          self.options.node, attempt, failed, delay)
            attempt += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)

    def _next_bdseq(self) -> int:
        path = self.options.state_dir / "bdseq"
        try:
            current = int(path.read_text().strip() or 0)
        except (OSError, ValueError):
            current = 0
        tmp = path.with_suffix(".tmp")
        tmp.write_text(str(current + 1))
        tmp.replace(path)
        return current

    async def _session(self) -> None:
        o = self.options
        self.bdseq = await asyncio.to_thread(self._next_bdseq)
        will = aiomqtt.Will(node_topic(o.site, o.node, NodeMessage.DEATH),
                            encode(NodeDeath(ts=now_ms(), bdseq=self.bdseq)), qos=1)
        client = aiomqtt.Client(self._host, self._port, identifier=f"cw-{o.site}-{o.node}",
                                will=will, keepalive=o.keepalive_s, clean_session=True,
                                timeout=10, max_inflight_messages=1000,
                                socket_options=(NO_DELAY_OPTION,))
        link = _Link(client)
        try:
            async with client:
                for topic in downlink_filters(o.site, o.node):
                    await client.subscribe(topic, qos=1)
                self._server_online = None
                async with self._lock:
                    await self._births(link, replay=True)
                    self._link = link
                log.info("node %s connected to %s:%d (bdseq %d)", o.node, self._host,
                         self._port, self.bdseq)
                self.connected.set()
                try:
                    async with asyncio.TaskGroup() as tg:
                        tg.create_task(self._receive(link, tg), name=f"{o.node}:receive")
                        tg.create_task(self._node_heartbeats(link), name=f"{o.node}:heartbeat")
                        for d in self.drivers.values():
                            tg.create_task(self._device_reports(link, d),
                                           name=f"{d.id}:reports")
                        tg.create_task(self._until_stopped(link), name=f"{o.node}:shutdown")
                except* _SessionEnd:
                    log.info("node %s: clean shutdown (bdseq %d)", o.node, self.bdseq)
        finally:
            self._link = None
            link.lost.set()

    async def _until_stopped(self, link: _Link) -> None:
        await self._stopping.wait()
        self._link = None
        o = self.options
        await link.publish(node_topic(o.site, o.node, NodeMessage.DEATH),
                           encode(NodeDeath(ts=now_ms(), bdseq=self.bdseq)))
        raise _SessionEnd

    # ------------------------------------------------------------------ publishing

    def _take_seq(self) -> int:
        seq = self._seq
        self._seq += 1
        return seq

    async def _send(self, link: _Link, topic: str, message: Message) -> None:
        # No await between taking the seq (in the caller's expression) and starting the
        # publish: wire order == seq order.
        await link.publish(topic, encode(message))

    def _dev(self, device: str, message: DeviceMessage) -> str:
        return device_topic(self.options.site, self.options.node, device, message)

    async def _births(self, link: _Link, replay: bool) -> None:
        """NodeBirth + DeviceBirths (seq from 0); with ``replay``, the outbox and buffer."""
        o = self.options
        self._seq = 0
        descriptors = [DeviceDescriptor(d.id, d.profile.id, d.zone) for d in self.drivers.values()]
        await self._send(link, node_topic(o.site, o.node, NodeMessage.BIRTH), NodeBirth(
            ts=now_ms(), seq=self._take_seq(), bdseq=self.bdseq, kind=o.kind,
            devices=descriptors, heartbeat_s=scaled_interval(o.heartbeat_s, o.speed),
            software=o.software))
        for d in self.drivers.values():
            await self._announce(link, d)
        if not replay:
            return
        pending = await asyncio.to_thread(self.outbox.pending)
        for ev in pending:
            await self._send(link, self._dev(ev.device, DeviceMessage.EVENT), DeviceEvent(
                ts=ev.ts, seq=self._take_seq(), id=ev.id, kind=ev.kind,  # type: ignore[arg-type]
                data=ev.data, metrics=ev.metrics, hist=True))
        replayed_data = 0
        while self._buffered:
            device, change = self._buffered[0]
            await self._send(link, self._dev(device, DeviceMessage.DATA), DeviceData(
                ts=change.ts, seq=self._take_seq(), metrics=change.metrics, hist=True))
            self._buffered.popleft()
            replayed_data += 1
        if pending or replayed_data:
            log.info("node %s: replayed %d events and %d data reports", o.node, len(pending),
                     replayed_data)

    async def _announce(self, link: _Link, d: Driver) -> None:
        if d.online:
            await self._send(link, self._dev(d.id, DeviceMessage.BIRTH), DeviceBirth(
                ts=now_ms(), seq=self._take_seq(), profile=d.profile.id, zone=d.zone,
                metrics=d.metrics()))
        else:
            await self._send(link, self._dev(d.id, DeviceMessage.LOST), DeviceLost(
                ts=now_ms(), seq=self._take_seq(), reason=d.offline_reason))

    async def _node_heartbeats(self, link: _Link) -> None:
        o = self.options
        interval = scaled_interval(o.heartbeat_s, o.speed)
        while True:
            await asyncio.sleep(interval)
            pending = await asyncio.to_thread(len, self.outbox)
            await self._send(link, node_topic(o.site, o.node, NodeMessage.HEARTBEAT),
                             NodeHeartbeat(ts=now_ms(), seq=self._take_seq(),
                                           uptime_s=time.monotonic() - self._started,
                                           outbox=pending))

    async def _device_reports(self, link: _Link, d: Driver) -> None:
        interval = scaled_interval(d.profile.heartbeat_s, self.options.speed)
        while True:
            await asyncio.sleep(interval)
            if d.online:
                async with self._lock:
                    await self._send(link, self._dev(d.id, DeviceMessage.DATA), DeviceData(
                        ts=now_ms(), seq=self._take_seq(), metrics=d.metrics()))

    # ------------------------------------------------------------------ driver updates

    async def _pump(self) -> None:
        """Turn driver updates into messages, in order, connected or not."""
        while (item := await self._updates.get()) is not None:
            driver, update = item
            async with self._lock:
                await self._handle(driver, update)

    async def _handle(self, driver: Driver, update: DriverUpdate) -> None:
        link = self._link
        try:
            if isinstance(update, DriverEvent):
                stored = StoredEvent(id=uuid.uuid4().hex, device=driver.id, ts=update.ts,
                                     kind=update.kind, data=update.data, metrics=update.metrics)
                try:
                    await asyncio.to_thread(self.outbox.add, stored)
                except OutboxError as err:  # still publish: losing durability beats losing it
                    log.error("node %s: %s", self.options.node, err)
                if link is not None:
                    await self._send(link, self._dev(driver.id, DeviceMessage.EVENT),
                                     DeviceEvent(ts=update.ts, seq=self._take_seq(),
                                                 id=stored.id, kind=update.kind,  # type: ignore[arg-type]
                                                 data=update.data, metrics=update.metrics))
            elif isinstance(update, MetricsChanged):
                if link is None:
                    self._buffered.append((driver.id, update))
                else:
                    await self._send(link, self._dev(driver.id, DeviceMessage.DATA),
                                     DeviceData(ts=update.ts, seq=self._take_seq(),
                                                metrics=update.metrics))
            elif isinstance(update, Availability) and link is not None:
                # While disconnected nothing to do: the next birth announces the state.
                await self._announce(link, driver)
        except aiomqtt.MqttError:
            # The session is going down; events are safe in the outbox, data is buffered.
            if isinstance(update, MetricsChanged):
                self._buffered.append((driver.id, update))

    # ------------------------------------------------------------------ downlink

    async def _receive(self, link: _Link, tg: asyncio.TaskGroup) -> None:
        async for message in link.client.messages:
            payload = message.payload
            if not isinstance(payload, bytes | bytearray):
                continue
            try:
                decoded = decode_for_topic(parse_topic(str(message.topic)), bytes(payload))
            except ProtocolError as err:
                log.warning("node %s: ignoring bad downlink on %s: %s", self.options.node,
                            message.topic, err)
                continue
            if isinstance(decoded, ServerState):
                await self._server_state(link, decoded)
            elif isinstance(decoded, EventAck):
                await asyncio.to_thread(self.outbox.remove, decoded.ids)
            elif isinstance(decoded, Command):
                tg.create_task(self._command(link, decoded), name=f"cmd:{decoded.id}")

    async def _server_state(self, link: _Link, state: ServerState) -> None:
        previous, self._server_online = self._server_online, state.online
        new_session = bool(state.session) and state.session != self._server_session
        if state.session:
            self._server_session = state.session
        if previous != state.online:
            log.info("node %s: server %s", self.options.node,
                     "online" if state.online else "offline")
        # The first state of a connection follows our own birth: nothing to resend.
        if previous is not None and state.online and (previous is False or new_session):
            async with self._lock:
                await self._births(link, replay=True)

    async def _command(self, link: _Link, command: Command) -> None:
        refusal = self._gate.admit(command)
        if refusal is not None:
            status, detail = refusal.status, refusal.detail
        elif command.name == "rebirth":
            async with self._lock:
                await self._births(link, replay=False)
            status, detail = "done", ""
        elif command.device is None or command.device not in self.drivers:
            status, detail = "refused", f"no device {command.device!r} on this node"
        else:
            try:
                status, detail = await self.drivers[command.device].command(command.name,
                                                                            command.params)
            except Exception as err:  # a driver bug must not take the node down
                log.exception("node %s: command %s failed", self.options.node, command.id)
                status, detail = "failed", str(err)[:500]
        log.info("node %s: command %s %s on %s -> %s", self.options.node, command.id,
                 command.name, command.device or "node", status)
        o = self.options
        await self._send(link, node_topic(o.site, o.node, NodeMessage.RESULT), CommandResult(
            ts=now_ms(), seq=self._take_seq(), id=command.id, status=status, detail=detail))
