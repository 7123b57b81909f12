"""The server's MQTT link: uplink messages in (batched onto the event loop), acks, commands
and the retained server state out.

Two receivers, chosen by ``mqtt.receiver`` (server/config.py):

``process`` (default)
    A child process (server/ingest_receiver.py, supervised by server/ingest_relay.py) runs
    its own paho client for the uplink subscriptions and sends the messages here in
    batches, one msgpack frame each.  paho parses MQTT packets in Python; in a thread that
    work shares the GIL with the coordinator, in a process it runs on another core
    (scripts/profile_ingest.py measures both).  This process keeps a second connection
    for everything it publishes; the Will and the retained online/offline state belong
    to it, and "online" is announced only once both connections are up (the receiver
    subscribed), again after either came back: edges answering a new session with their
    births are then heard.  ``connected`` means both are up.
``thread``
    paho's network loop in a thread of this process, receiving and publishing;
    ``connected`` once the broker granted the subscriptions.

In the thread receiver, paho runs its network loop in its own thread (``loop_start``).
Incoming messages are appended to a list under a lock; the first one after a quiet spell
wakes the asyncio loop (``call_soon_threadsafe``), which then takes the list every
``DRAIN_INTERVAL_S`` for as long as messages keep coming.  A busy broker thus costs a few
hundred hand-overs a second, not one per message (each wake-up from another thread is a
pipe write and a hand-over of the GIL; per message they halved the link's throughput).
paho's built-in reconnect (with backoff) keeps the link up; on every (re)connect the server
re-announces itself online and re-subscribes (clean session).

Back-pressure: ``backlog`` counts the messages handed over and not yet ``handled`` by the
coordinator.  Past ``BACKLOG_HIGH`` the link stops taking more (the process receiver's
frames stay in its pipe, the thread receiver's in its list, then paho's thread waits in
``on_message``) until the backlog is down to ``BACKLOG_LOW``: the broker holds the rest, and
memory stays bounded when messages come faster than the server handles them.  Each such
stall is counted (``custodywatch_ingest_stalls_total``) and logged.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from types import TracebackType
from typing import Any

import paho.mqtt.client as mqtt
from prometheus_client import CollectorRegistry, Counter

from protocol import topics
from protocol.codec import encode, now_ms, sign_command
from protocol.messages import Command, EventAck, Message, ServerState
from protocol.transport import paho_client
from server.config import MqttSettings
from server.errors import ServerError
from server.ingest_receiver import Inbound as Inbound  # the receivers' unit, re-exported
from server.ingest_relay import ReceiverProcess

log = logging.getLogger(__name__)

COMMAND_TTL_S = 30.0
DRAIN_INTERVAL_S = 0.002  # while messages keep coming, hand them over this often
BACKLOG_HIGH = 20_000  # messages handed over and not yet handled: stop taking more
BACKLOG_LOW = 5_000  # ... until the backlog is down to this
MAX_PENDING = 50_000  # thread receiver: messages waiting before paho's thread waits
STALL_LOG_S = 30.0  # while stalling, say so at most this often


class MqttLinkError(ServerError):
    pass


class MqttLink:
    """``async with MqttLink(settings, site_id, key) as link:``, then
    ``await link.batches.get()``."""

    def __init__(self, settings: MqttSettings, site_id: str, command_key: bytes) -> None:
        self.settings = settings
        self.site_id = site_id
        self.command_key = command_key
        self.session = uuid.uuid4().hex
        self.batches: asyncio.Queue[list[Inbound]] = asyncio.Queue()
        self._broker_up = False  # this process's own connection
        self._subscribed = False  # thread receiver: the broker granted the subscriptions
        self._announced = False  # "online" published since both connections came up
        self._connected_event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._room_for_paho = threading.Condition(self._lock)  # thread receiver
        self._pending: list[Inbound] = []
        self._drain_scheduled = False
        self.backlog = 0  # messages handed over to ``batches`` and not yet handled
        self.stalls = 0  # times the backlog reached BACKLOG_HIGH
        self._room = asyncio.Event()
        self._room.set()
        self._stall_logged = 0.0
        self._parked = False  # thread receiver: _drain waits for handled() to reopen
        self._stalls_counter: Counter | None = None
        self._was_connected = False
        client_id = settings.client_id or f"custodywatch-server-{site_id}-{self.session[:8]}"
        self._client = paho_client(client_id, settings.username, settings.password,
                                   queued=10_000)
        # A Will so that nodes learn the server is gone even when it dies without a word.
        self._client.will_set(self._state_topic, encode(ServerState(ts=now_ms(), online=False)),
                              qos=1, retain=True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self._receiver: ReceiverProcess | None = None
        self._restarts_counter: Counter | None = None
        if settings.receiver == "process":
            self._receiver = ReceiverProcess(
                settings, f"{client_id[:60]}-rx", topics.uplink_filters(site_id),
                deliver=self._hand_over, on_state=self._state_changed,
                on_restart=self._count_restart, room=self._room)

    @property
    def connected(self) -> bool:
        """True while messages can come in and go out."""
        if self._receiver is None:
            return self._broker_up and self._subscribed
        return self._broker_up and self._receiver.up

    @property
    def receiver_pid(self) -> int | None:
        """The receiver process's pid (``mqtt.receiver: process``), else None."""
        return self._receiver.pid if self._receiver is not None else None

    @property
    def receiver_restarts(self) -> int:
        return self._receiver.restarts if self._receiver is not None else 0

    def register_metrics(self, registry: CollectorRegistry) -> None:
        """Count receiver restarts in ``custodywatch_mqtt_receiver_restarts_total``."""
        self._restarts_counter = Counter(
            "custodywatch_mqtt_receiver_restarts", "MQTT receiver processes that died and "
            "were restarted", registry=registry)
        self._restarts_counter.inc(self.receiver_restarts)
        self._stalls_counter = Counter(
            "custodywatch_ingest_stalls", "Times the server stopped taking MQTT messages "
            f"because {BACKLOG_HIGH} were waiting to be handled", registry=registry)
        self._stalls_counter.inc(self.stalls)

    def _count_restart(self) -> None:
        if self._restarts_counter is not None:
            self._restarts_counter.inc()

    @property
    def _state_topic(self) -> str:
        return topics.server_state_topic(self.site_id)

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> MqttLink:
        self._loop = asyncio.get_running_loop()
        s = self.settings
        log.info("connecting to MQTT broker %s:%d", s.host, s.port)
        self._client.connect_async(s.host, s.port, keepalive=s.keepalive_s)
        self._client.loop_start()  # retries the first connection too
        if self._receiver is not None:
            self._receiver.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._receiver is not None:
            await self._receiver.stop()
        await asyncio.to_thread(self._shutdown)

    def _shutdown(self) -> None:
        # A clean DISCONNECT suppresses the Will, so say "offline" explicitly first.
        if self._broker_up:
            info = self._client.publish(self._state_topic,
                                        encode(ServerState(ts=now_ms(), online=False)),
                                        qos=1, retain=True)
            try:
                info.wait_for_publish(timeout=2.0)
            except (RuntimeError, ValueError) as err:
                log.warning("could not publish offline state: %s", err)
        self._broker_up = False  # a deliberate disconnect, not a link failure
        self._client.disconnect()
        self._client.loop_stop()
        log.info("MQTT link closed")

    async def wait_connected(self) -> None:
        await self._connected_event.wait()

    # ------------------------------------------------------------------ paho thread

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any,
                    reason_code: Any, properties: Any) -> None:
        if reason_code.is_failure:
            log.error("MQTT broker refused the connection: %s", reason_code)
            return
        self._broker_up = True
        log.info("MQTT link up%s", " (reconnected)" if self._was_connected else "")
        self._was_connected = True
        if self._receiver is not None:  # it subscribes; "online" once both are up
            self._call_in_loop(self._state_changed)
            return
        client.publish(self._state_topic,
                       encode(ServerState(ts=now_ms(), online=True, session=self.session)),
                       qos=1, retain=True)
        client.subscribe([(f, 1) for f in topics.uplink_filters(self.site_id)])

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int,
                      reason_codes: Any, properties: Any) -> None:
        self._subscribed = True  # connected from now on: nothing published is missed
        self._call_in_loop(self._connected_event.set)

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any,
                       reason_code: Any, properties: Any) -> None:
        if self._broker_up:
            log.warning("MQTT link down: %s (paho reconnects with backoff)", reason_code)
        self._broker_up = False
        self._subscribed = False
        self._call_in_loop(self._state_changed if self._receiver is not None
                           else self._connected_event.clear)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        item = Inbound(message.topic, bytes(message.payload), time.time())
        with self._lock:
            while len(self._pending) >= MAX_PENDING:  # the loop is not taking them
                self._room_for_paho.wait(1.0)
            self._pending.append(item)
            if self._drain_scheduled:
                return
            self._drain_scheduled = True
        self._call_in_loop(self._drain)

    def _call_in_loop(self, fn: Any) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(fn)
            except RuntimeError:  # the loop closed between the check and the call
                pass

    # ------------------------------------------------------------------ event loop

    def _state_changed(self) -> None:
        """Process receiver: either connection went up or down."""
        if not self.connected:
            self._announced = False
            self._connected_event.clear()
            return
        if not self._announced:
            self._announced = True
            self.publish(self._state_topic, ServerState(ts=now_ms(), online=True,
                                                        session=self.session), retain=True)
        self._connected_event.set()

    def _hand_over(self, batch: list[Inbound]) -> None:
        """Into ``batches``, counted in ``backlog``; at BACKLOG_HIGH the room closes."""
        self.backlog += len(batch)
        self.batches.put_nowait(batch)
        if self.backlog >= BACKLOG_HIGH and self._room.is_set():
            self._room.clear()
            self.stalls += 1
            if self._stalls_counter is not None:
                self._stalls_counter.inc()
            now = time.monotonic()
            if now - self._stall_logged >= STALL_LOG_S:
                self._stall_logged = now
                log.warning("ingest is %d messages behind: taking no more from the broker "
                            "until %d are left (stall %d)", self.backlog, BACKLOG_LOW,
                            self.stalls)

    def handled(self, n: int) -> None:
        """The coordinator is done with ``n`` messages taken from ``batches``."""
        self.backlog = max(0, self.backlog - n)
        if self.backlog <= BACKLOG_LOW and not self._room.is_set():
            self._room.set()
            if self._parked:  # thread receiver: its drain waited for room
                self._parked = False
                self._drain()

    def _drain(self) -> None:
        if not self._room.is_set():  # far behind: leave them with paho (handled() resumes)
            self._parked = True  # (_drain_scheduled stays set: paho does not wake us)
            return
        with self._lock:
            batch, self._pending = self._pending, []
            self._room_for_paho.notify_all()
            if not batch:  # quiet: the next message wakes the loop at once
                self._drain_scheduled = False
                return
        self._hand_over(batch)
        # Traffic flows: look again shortly instead of being woken per message.  Each
        # wake-up from paho's thread costs a pipe write and a hand-over of the GIL.
        loop = self._loop
        if loop is not None:
            loop.call_later(DRAIN_INTERVAL_S, self._drain)

    def publish(self, topic: str, message: Message, *, retain: bool = False, qos: int = 1) -> None:
        """Queue a message for the broker (paho buffers it while the link is down)."""
        self._client.publish(topic, encode(message), qos=qos, retain=retain)

    def send_ack(self, node: str, ids: list[str]) -> None:
        self.publish(topics.node_topic(self.site_id, node, topics.NodeMessage.ACK),
                     EventAck(ts=now_ms(), ids=ids))

    def send_command(self, node: str, name: str, device: str | None = None,
                     params: dict[str, Any] | None = None,
                     ttl_s: float = COMMAND_TTL_S) -> Command:
        now = now_ms()
        command = sign_command(Command(ts=now, id=uuid.uuid4().hex, name=name, device=device,
                                       params=params or {}, expires=now + int(ttl_s * 1000)),
                               self.command_key)
        self.publish(topics.node_topic(self.site_id, node, topics.NodeMessage.CMD), command)
        return command
