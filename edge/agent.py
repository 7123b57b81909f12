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

Publishing never waits for a PUBACK (edge/link.py pipelines QoS 1 publishes, in order);
drivers never wait for publishing (edge/intake.py queues their updates, bounded).  One lock
orders the publications that must not interleave (births and replays before any live
message); a seq number is taken right before its publish is started, with no await between,
so the order on the wire is the seq order.

Messages are encoded here with this module's ``encode`` (simulators/player.py wraps it to
skew a simulated node's clock).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from types import TracebackType

import aiomqtt

from edge.commands import CommandGate, execute
from edge.config import parse_broker_url
from edge.drivers.base import Availability, Driver, DriverUpdate, MetricsChanged
from edge.errors import OutboxError
from edge.intake import Intake, Queued, merge
from edge.link import Link, reconnecting
from edge.options import SOFTWARE, AgentOptions, next_bdseq
from edge.outbox import Outbox
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

__all__ = ["SOFTWARE", "AgentOptions", "EdgeAgent"]  # AgentOptions: imported from here too

CONNECT_TIMEOUT_S = 10.0  # connect, subscribe, and the births' acks

class _SessionEnd(Exception):
    """Raised inside a session's task group to end it cleanly (shutdown)."""


class EdgeAgent:
    """``async with EdgeAgent(options, drivers) as agent:`` runs the node until exit."""

    def __init__(self, options: AgentOptions, drivers: Sequence[Driver]) -> None:
        self.options = options
        self.drivers = {d.id: d for d in drivers}
        self._host, self._port = parse_broker_url(options.broker)
        self.intake = Intake(options.max_queued)
        # Data made while disconnected, latest per device, replayed (hist) after the births.
        self._buffered: dict[str, MetricsChanged] = {}
        self._gate = CommandGate(options.command_key)
        self._lock = asyncio.Lock()
        self._link: Link | None = None  # set while connected and born
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
            d.attach(self.intake.put)

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
        self.intake.close()
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
        def ended() -> bool:  # after each session: was it up (born) before it ended?
            self._link = None
            was_up = self.connected.is_set()
            self.connected.clear()
            return was_up

        await reconnecting(self._session, ended, self._stopping, self.options)

    async def _session(self) -> None:
        o = self.options
        self.bdseq = await asyncio.to_thread(next_bdseq, o.state_dir)
        will = aiomqtt.Will(node_topic(o.site, o.node, NodeMessage.DEATH),
                            encode(NodeDeath(ts=now_ms(), bdseq=self.bdseq)), qos=1)
        client = aiomqtt.Client(self._host, self._port, identifier=f"cw-{o.site}-{o.node}",
                                will=will, keepalive=o.keepalive_s, clean_session=True,
                                timeout=CONNECT_TIMEOUT_S, max_inflight_messages=1000,
                                socket_options=(NO_DELAY_OPTION,))
        link = Link(client)
        try:
            async with client:
                for topic in downlink_filters(o.site, o.node):
                    await client.subscribe(topic, qos=1)
                self._server_online = None
                async with self._lock:
                    await self._births(link, replay=True)
                    # Nothing watches the connection yet: a broker that never acks the
                    # births must not hold the session here.
                    try:
                        await asyncio.wait_for(link.drain(), CONNECT_TIMEOUT_S)
                    except TimeoutError as err:
                        raise aiomqtt.MqttError("births not acknowledged") from err
                    self._link = link
                log.info("node %s connected to %s:%d (bdseq %d)", o.node, self._host,
                         self._port, self.bdseq)
                self.connected.set()
                try:
                    async with asyncio.TaskGroup() as tg:
                        tg.create_task(self._receive(link, tg), name=f"{o.node}:receive")
                        tg.create_task(link.watch(), name=f"{o.node}:link")
                        tg.create_task(self._node_heartbeats(link), name=f"{o.node}:heartbeat")
                        for d in self.drivers.values():
                            tg.create_task(self._device_reports(link, d),
                                           name=f"{d.id}:reports")
                        tg.create_task(self._until_stopped(link), name=f"{o.node}:shutdown")
                except* _SessionEnd:
                    log.info("node %s: clean shutdown (bdseq %d)", o.node, self.bdseq)
        finally:
            self._link = None
            for device, change in link.close():  # data never acked: keep it
                newer = self._buffered.get(device)
                self._buffered[device] = change if newer is None else merge(change, newer)

    async def _until_stopped(self, link: Link) -> None:
        await self._stopping.wait()
        o = self.options
        async with self._lock:
            self._link = None
            self._send(link, node_topic(o.site, o.node, NodeMessage.DEATH),
                       NodeDeath(ts=now_ms(), bdseq=self.bdseq))
        # Everything published so far, the death last, is acked (or we give up waiting).
        with contextlib.suppress(TimeoutError, aiomqtt.MqttError):
            await asyncio.wait_for(link.drain(), CONNECT_TIMEOUT_S / 2)
        raise _SessionEnd

    # ------------------------------------------------------------------ publishing

    def _take_seq(self) -> int:
        seq = self._seq
        self._seq += 1
        return seq

    def _send(self, link: Link, topic: str, message: Message,
              keep: tuple[str, MetricsChanged] | None = None) -> None:
        # Synchronous: the seq taken in the caller's expression and the publish started
        # here have no await between them, so wire order == seq order.
        link.send(topic, encode(message), keep=keep)

    def _dev(self, device: str, message: DeviceMessage) -> str:
        return device_topic(self.options.site, self.options.node, device, message)

    async def _births(self, link: Link, replay: bool) -> None:
        """NodeBirth + DeviceBirths (seq from 0); with ``replay``, the outbox and buffer."""
        o = self.options
        self._seq = 0
        descriptors = [DeviceDescriptor(d.id, d.profile.id, d.zone) for d in self.drivers.values()]
        self._send(link, node_topic(o.site, o.node, NodeMessage.BIRTH), NodeBirth(
            ts=now_ms(), seq=self._take_seq(), bdseq=self.bdseq, kind=o.kind,
            devices=descriptors, heartbeat_s=scaled_interval(o.heartbeat_s, o.speed),
            software=o.software))
        for d in self.drivers.values():
            await link.room()
            self._announce(link, d)
        if not replay:
            return
        pending = await asyncio.to_thread(self.outbox.pending)
        for ev in pending:
            await link.room()
            self._send(link, self._dev(ev.device, DeviceMessage.EVENT), DeviceEvent(
                ts=ev.ts, seq=self._take_seq(), id=ev.id, kind=ev.kind,  # type: ignore[arg-type]
                data=ev.data, metrics=ev.metrics, hist=True))
        replayed_data = 0
        while self._buffered:
            await link.room()
            device, change = self._buffered.popitem()
            self._send(link, self._dev(device, DeviceMessage.DATA), DeviceData(
                ts=change.ts, seq=self._take_seq(), metrics=change.metrics, hist=True))
            replayed_data += 1
        if pending or replayed_data:
            log.info("node %s: replayed %d events and %d data reports", o.node, len(pending),
                     replayed_data)

    def _announce(self, link: Link, d: Driver) -> None:
        if d.online:
            self._send(link, self._dev(d.id, DeviceMessage.BIRTH), DeviceBirth(
                ts=now_ms(), seq=self._take_seq(), profile=d.profile.id, zone=d.zone,
                metrics=d.metrics()))
        else:
            self._send(link, self._dev(d.id, DeviceMessage.LOST), DeviceLost(
                ts=now_ms(), seq=self._take_seq(), reason=d.offline_reason,
                info=d.offline_info))

    async def _node_heartbeats(self, link: Link) -> None:
        o = self.options
        interval = scaled_interval(o.heartbeat_s, o.speed)
        while True:
            await asyncio.sleep(interval)
            pending = await asyncio.to_thread(len, self.outbox)
            await link.room()
            # QoS 1 like the rest: a heartbeat carries a seq, and a QoS 0 message can
            # overtake QoS 1 ones the broker holds for a slow server (a false gap there).
            self._send(link, node_topic(o.site, o.node, NodeMessage.HEARTBEAT),
                       NodeHeartbeat(ts=now_ms(), seq=self._take_seq(),
                                     uptime_s=time.monotonic() - self._started,
                                     outbox=pending))

    async def _device_reports(self, link: Link, d: Driver) -> None:
        interval = scaled_interval(d.profile.heartbeat_s, self.options.speed)
        while True:
            await asyncio.sleep(interval)
            if d.online:
                async with self._lock:
                    await link.room()
                    self._send(link, self._dev(d.id, DeviceMessage.DATA), DeviceData(
                        ts=now_ms(), seq=self._take_seq(), metrics=d.metrics()))

    # ------------------------------------------------------------------ driver updates

    async def _pump(self) -> None:
        """Turn driver updates into messages, in order, connected or not: the events of a
        batch go to the outbox in one transaction, then the batch is published."""
        linger = self.options.linger_s / self.options.speed
        while batch := await self.intake.take(linger if self._link is not None else 0.0):
            events = [q.event for q in batch if q.event is not None]
            if events:
                try:
                    await asyncio.to_thread(self.outbox.add_many, events)
                except OutboxError as err:  # still publish: losing durability beats losing it
                    log.error("node %s: %s", self.options.node, err)
            async with self._lock:
                link = self._link
                for queued in batch:
                    if link is not None:
                        try:
                            await link.room()
                            self._publish(link, queued)
                            continue
                        except aiomqtt.MqttError:
                            link = None  # the session is going down: keep the rest
                    self._keep(queued.driver, queued.update)

    def _publish(self, link: Link, queued: Queued) -> None:
        driver, update = queued.driver, queued.update
        if queued.event is not None:
            ev = queued.event
            self._send(link, self._dev(driver.id, DeviceMessage.EVENT), DeviceEvent(
                ts=ev.ts, seq=self._take_seq(), id=ev.id, kind=ev.kind,  # type: ignore[arg-type]
                data=ev.data, metrics=ev.metrics))
        elif isinstance(update, MetricsChanged):
            self._send(link, self._dev(driver.id, DeviceMessage.DATA), DeviceData(
                ts=update.ts, seq=self._take_seq(), metrics=update.metrics),
                keep=(driver.id, update))
        elif isinstance(update, Availability):
            self._announce(link, driver)

    def _keep(self, driver: Driver, update: DriverUpdate) -> None:
        """While disconnected: events are safe in the outbox, data is kept latest per
        device, and availability needs nothing (the next births announce it)."""
        if isinstance(update, MetricsChanged):
            older = self._buffered.get(driver.id)
            self._buffered[driver.id] = update if older is None else merge(older, update)

    # ------------------------------------------------------------------ downlink

    async def _receive(self, link: Link, tg: asyncio.TaskGroup) -> None:
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

    async def _server_state(self, link: Link, state: ServerState) -> None:
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

    async def _command(self, link: Link, command: Command) -> None:
        async def rebirth() -> None:
            async with self._lock:
                await self._births(link, replay=False)

        status, detail = await execute(self._gate, self.drivers, command, rebirth)
        log.info("node %s: command %s %s on %s -> %s", self.options.node, command.id,
                 command.name, command.device or "node", status)
        o = self.options
        async with self._lock:
            await link.room()
            self._send(link, node_topic(o.site, o.node, NodeMessage.RESULT), CommandResult(
                ts=now_ms(), seq=self._take_seq(), id=command.id, status=status,
                detail=detail))
