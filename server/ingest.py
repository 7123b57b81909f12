"""The server's MQTT link: uplink messages in (batched onto the event loop), acks, commands
and the retained server state out.

paho-mqtt runs its network loop in its own thread (``loop_start``).  Incoming messages are
appended to a list under a lock and one drain is scheduled on the asyncio loop per burst,
so a busy broker costs one ``call_soon_threadsafe`` per batch, not per message.  paho's
built-in reconnect (with backoff) keeps the link up; on every (re)connect the server
re-announces itself online and re-subscribes (clean session).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from protocol import topics
from protocol.codec import encode, now_ms, sign_command
from protocol.messages import Command, EventAck, Message, ServerState
from protocol.transport import disable_nagle
from server.config import MqttSettings
from server.errors import ServerError

log = logging.getLogger(__name__)

COMMAND_TTL_S = 30.0


@dataclass(frozen=True, slots=True)
class Inbound:
    topic: str
    payload: bytes
    received: float  # epoch seconds, when paho handed it over


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
        self.connected = False
        self._connected_event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._pending: list[Inbound] = []
        self._drain_scheduled = False
        self._was_connected = False
        client_id = settings.client_id or f"custodywatch-server-{site_id}-{self.session[:8]}"
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                   protocol=mqtt.MQTTv311, clean_session=True)
        if settings.username:
            self._client.username_pw_set(settings.username, settings.password)
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._client.max_queued_messages_set(10_000)
        # A Will so that nodes learn the server is gone even when it dies without a word.
        self._client.will_set(self._state_topic, encode(ServerState(ts=now_ms(), online=False)),
                              qos=1, retain=True)
        self._client.on_connect = self._on_connect
        self._client.on_socket_open = lambda client, userdata, sock: disable_nagle(sock)
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message

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
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await asyncio.to_thread(self._shutdown)

    def _shutdown(self) -> None:
        # A clean DISCONNECT suppresses the Will, so say "offline" explicitly first.
        if self.connected:
            info = self._client.publish(self._state_topic,
                                        encode(ServerState(ts=now_ms(), online=False)),
                                        qos=1, retain=True)
            try:
                info.wait_for_publish(timeout=2.0)
            except (RuntimeError, ValueError) as err:
                log.warning("could not publish offline state: %s", err)
        self.connected = False  # a deliberate disconnect, not a link failure
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
        self.connected = True
        log.info("MQTT link up%s", " (reconnected)" if self._was_connected else "")
        self._was_connected = True
        client.publish(self._state_topic,
                       encode(ServerState(ts=now_ms(), online=True, session=self.session)),
                       qos=1, retain=True)
        client.subscribe([(f, 1) for f in topics.uplink_filters(self.site_id)])
        self._call_in_loop(self._connected_event.set)

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any,
                       reason_code: Any, properties: Any) -> None:
        if self.connected:
            log.warning("MQTT link down: %s (paho reconnects with backoff)", reason_code)
        self.connected = False
        self._call_in_loop(self._connected_event.clear)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        item = Inbound(message.topic, bytes(message.payload), time.time())
        with self._lock:
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

    def _drain(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
            self._drain_scheduled = False
        if batch:
            self.batches.put_nowait(batch)

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
