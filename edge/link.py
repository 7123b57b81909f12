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

Order: aiomqtt hands a publish to paho at its task's first step, before any await (the
client is made without ``max_concurrent_outgoing_calls``, whose semaphore would come
first), and asyncio runs the first steps of new tasks in creation order, so the wire order
is the order of :meth:`send` calls (== seq order, which the caller takes right before).

A failed publish, or :meth:`close`, sets :attr:`lost`; the session watches it
(:meth:`watch`) and ends, and the publishes still waiting are cancelled (aiomqtt leaves a
QoS 1 publish waiting for a PUBACK that a dead connection will never bring).  A publish may
carry a ``keep`` token (the agent's data report): :meth:`close` returns the tokens of the
publishes never acked, so that data is kept for the next session like data made while
disconnected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
from collections.abc import Awaitable, Callable
from typing import Any

import aiomqtt

from edge.options import AgentOptions

log = logging.getLogger(__name__)

PUBLISH_WINDOW = 256
"""QoS 1 publishes awaiting their PUBACK at once (the client's inflight limit is above)."""


class Link:
    def __init__(self, client: aiomqtt.Client, window: int = PUBLISH_WINDOW) -> None:
        self.client = client
        self.window = window
        # aiomqtt warns past this many waiting publishes: the window is the limit here.
        client.pending_calls_threshold = window + 64
        self.lost = asyncio.Event()
        self.error: BaseException | None = None
        self._in_flight: dict[asyncio.Task[None], Any] = {}  # -> its keep token
        self._unacked: list[Any] = []  # keep tokens of failed publishes
        self._room = asyncio.Event()
        self._room.set()

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def send(self, topic: str, payload: bytes, qos: int = 1, keep: Any = None) -> None:
        """Start one publish; it reaches paho before any publish started after it."""
        if self.lost.is_set():
            raise aiomqtt.MqttError("connection lost")
        # timeout=inf: no timer and no extra task per publish; a PUBACK that never comes
        # is the connection's problem (keepalive), and close() cancels the wait.
        task = asyncio.create_task(self.client.publish(topic, payload, qos=qos,
                                                       timeout=math.inf))
        self._in_flight[task] = keep
        task.add_done_callback(self._done)
        if len(self._in_flight) >= self.window:
            self._room.clear()

    def _done(self, task: asyncio.Task[None]) -> None:
        keep = self._in_flight.pop(task, None)
        if len(self._in_flight) < self.window:
            self._room.set()
        if task.cancelled():
            return
        error = task.exception()
        if error is not None and keep is not None:
            self._unacked.append(keep)
        if error is not None and not self.lost.is_set():
            log.debug("publish failed: %s", error)
            self.error = error
            self.lost.set()
            self._room.set()  # wake a waiter so it sees the loss

    async def room(self) -> None:
        """Wait until another publish may start (raises MqttError once the link is lost)."""
        while not self._room.is_set():
            await self._room.wait()
        if self.lost.is_set():
            raise aiomqtt.MqttError("connection lost while publishing")

    async def drain(self) -> None:
        """Wait until every publish started so far is acked (or the link is lost)."""
        while self._in_flight and not self.lost.is_set():
            await asyncio.wait(set(self._in_flight))
        if self.lost.is_set():
            raise aiomqtt.MqttError("connection lost while publishing")

    async def watch(self) -> None:
        """Return never; raise MqttError when a publish fails (ends the session)."""
        await self.lost.wait()
        raise aiomqtt.MqttError(f"publish failed: {self.error}")

    def close(self) -> list[Any]:
        """The connection is gone: fail :meth:`room` waiters, cancel waiting publishes;
        returns the keep tokens of those never acked, oldest first."""
        self.lost.set()
        self._room.set()
        unacked = self._unacked + [k for k in self._in_flight.values() if k is not None]
        for task in list(self._in_flight):
            task.cancel()
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
