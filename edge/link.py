"""The agent's MQTT connection: reconnecting with back-off, and publishing with many QoS 1
publishes in flight, in order.

:func:`reconnecting` runs sessions until told to stop: after a failed connection it waits
a jittered back-off doubling from ``backoff_min_s`` to ``backoff_max_s`` (a restarted broker
is not stampeded by every node at once), starting again from the minimum once a session
was up.

The agent used to await each PUBACK before the next publish (one broker round trip per
message, under the session lock).  Nothing depends on that wait: an event leaves the disk
outbox only on the server's ``EventAck`` (edge/outbox.py), and data lost with a connection
is made good by the births of the next session, which carry every current value.  So
:meth:`Link.send` starts a publish and returns at once; up to ``window`` publishes wait for
their PUBACK together, and :meth:`Link.room` holds the caller back when that window is full
(a broker that stops acking slows the agent's pump, never the drivers).

:meth:`Link.send` hands the message to the aiomqtt client's paho client directly
(``publish`` is synchronous: it queues the packet, and the socket writer registered by
aiomqtt sends what is queued at the loop's next turn), and notes its message id; paho's
``on_publish`` (the PUBACK) is routed here first, and aiomqtt's own publishes still get
theirs.  aiomqtt's ``publish`` would cost a task, an event, a future, a ``wait_for`` and
four coroutine frames per message to wait for that PUBACK, which nothing here awaits
(docs/gateway.md, "Work per poll").  Order: the wire order is the order of :meth:`send`
calls (== seq order, which the caller takes right before), because each call queues its
packet before it returns.

A failed publish, or :meth:`close`, sets :attr:`lost`; the session watches it
(:meth:`watch`) and ends.  A publish may carry a ``keep`` token (the agent's data report):
:meth:`close` returns the tokens of the publishes never acked, so that data is kept for
the next session like data made while disconnected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import aiomqtt
import paho.mqtt.client as paho

from edge.options import AgentOptions

log = logging.getLogger(__name__)

PUBLISH_WINDOW = 256
"""QoS 1 publishes awaiting their PUBACK at once (the client's inflight limit is above)."""


class Link:
    def __init__(self, client: aiomqtt.Client, window: int = PUBLISH_WINDOW) -> None:
        self.client = client
        self.window = window
        # aiomqtt keeps its paho client in `_client` (aiomqtt 2.x, pinned < 3 in
        # pyproject.toml); fail at the first session, not silently, if that changes.
        inner = getattr(client, "_client", None)
        if not isinstance(inner, paho.Client):
            raise TypeError("aiomqtt.Client no longer exposes its paho client as _client")
        self._paho: paho.Client = inner
        self.lost = asyncio.Event()
        self.error: BaseException | None = None
        self._in_flight: dict[int, Any] = {}  # message id -> its keep token
        self._unacked: list[Any] = []  # keep tokens of failed publishes
        self._room = asyncio.Event()
        self._room.set()
        self._idle = asyncio.Event()  # nothing in flight (or lost)
        self._idle.set()
        self._aiomqtt_on_publish: Callable[..., None] | None = self._paho.on_publish
        self._paho.on_publish = self._acked

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def send(self, topic: str, payload: bytes, qos: int = 1, keep: Any = None) -> None:
        """Start one publish; it reaches the socket before any publish started after it."""
        if self.lost.is_set():
            raise aiomqtt.MqttError("connection lost")
        info = self._paho.publish(topic, payload, qos)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            self._failed(aiomqtt.MqttCodeError(info.rc, "could not publish"), keep)
            return
        if qos == 0:
            return  # no PUBACK to wait for
        self._in_flight[info.mid] = keep
        self._idle.clear()
        if len(self._in_flight) >= self.window:
            self._room.clear()

    def _acked(self, client: paho.Client, userdata: Any, mid: int, *args: Any) -> None:
        """paho's on_publish: a PUBACK came (called in the event loop, by aiomqtt's reader)."""
        try:
            del self._in_flight[mid]
        except KeyError:  # not ours: a publish made through aiomqtt itself
            if self._aiomqtt_on_publish is not None:
                self._aiomqtt_on_publish(client, userdata, mid, *args)
            return
        if len(self._in_flight) < self.window:
            self._room.set()
        if not self._in_flight:
            self._idle.set()

    def _failed(self, error: BaseException, keep: Any) -> None:
        if keep is not None:
            self._unacked.append(keep)
        if not self.lost.is_set():
            log.debug("publish failed: %s", error)
            self.error = error
            self._lose()

    def _lose(self) -> None:
        self.lost.set()
        self._room.set()  # wake waiters so they see the loss
        self._idle.set()

    async def room(self) -> None:
        """Wait until another publish may start (raises MqttError once the link is lost)."""
        while not self._room.is_set():
            await self._room.wait()
        if self.lost.is_set():
            raise aiomqtt.MqttError("connection lost while publishing")

    async def drain(self) -> None:
        """Wait until every publish started so far is acked (or the link is lost)."""
        while self._in_flight and not self.lost.is_set():
            await self._idle.wait()
        if self.lost.is_set():
            raise aiomqtt.MqttError("connection lost while publishing")

    async def watch(self) -> None:
        """Return never; raise MqttError when a publish fails (ends the session)."""
        await self.lost.wait()
        raise aiomqtt.MqttError(f"publish failed: {self.error}")

    def close(self) -> list[Any]:
        """The connection is gone: fail :meth:`room` and :meth:`drain` waiters; returns the
        keep tokens of the publishes never acked, oldest first."""
        self._lose()
        unacked = self._unacked + [k for k in self._in_flight.values() if k is not None]
        self._unacked, self._in_flight = [], {}
        self._paho.on_publish = self._aiomqtt_on_publish
        return unacked


async def reconnecting(session: Callable[[], Awaitable[None]], ended: Callable[[], bool],
                       stopping: asyncio.Event, options: AgentOptions) -> None:
    """Run ``session`` again after each MqttError until ``stopping`` is set or it returns.
    ``ended`` is called after each session and says whether it had been up."""
    attempt = 0
    while not stopping.is_set():
        failed: Exception | None = None
        try:
            await session()
        except* aiomqtt.MqttError as group:
            failed = group.exceptions[0]
        if ended():
            attempt = 0
        if failed is None or stopping.is_set():
            return
        delay = min(options.backoff_max_s, options.backoff_min_s * 2 ** attempt)
        delay *= random.uniform(0.5, 1.0)
        if attempt == 0:
            log.warning("node %s: broker connection lost (%s); reconnecting", options.node,
                        failed)
        else:
            log.debug("node %s: reconnect attempt %d failed (%s); next in %.1fs",
                      options.node, attempt, failed, delay)
        attempt += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), delay)
