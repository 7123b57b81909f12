"""The drivers' side of the agent: updates queue here and never wait for MQTT.

A driver's poll loop calls :meth:`Intake.put` (synchronous, no I/O), so a slow or absent
broker can never hold up Modbus polling or a camera's frame loop.  The agent's pump takes
everything queued at once (:meth:`Intake.take`) and writes the events of the batch to the
disk outbox in one transaction before publishing them.

Bounded: past ``max_items`` waiting updates, a device's new data is merged into its own
latest queued data (latest value per metric, latest ts) instead of being appended, so the
queue holds at most ``max_items`` plus one data report per device between its events.
Events and availability changes are always kept: an event is a fact to store, and the
order of a device's updates (an event, then data that changes the same metric) is kept.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque

from edge.drivers.base import Driver, DriverEvent, DriverUpdate, MetricsChanged
from edge.outbox import StoredEvent

MAX_QUEUED = 2_000
"""Updates waiting for the pump before data starts being coalesced per device."""


class Queued:
    """A queued update; mutable so that later data of its device can be merged in.  An
    event gets its id (and its outbox row) here, when it happens."""

    __slots__ = ("driver", "event", "update")

    def __init__(self, driver: Driver, update: DriverUpdate) -> None:
        self.driver = driver
        self.update = update
        self.event: StoredEvent | None = None
        if isinstance(update, DriverEvent):
            self.event = StoredEvent(id=uuid.uuid4().hex, device=driver.id, ts=update.ts,
                                     kind=update.kind, data=update.data,
                                     metrics=update.metrics)


def merge(older: MetricsChanged, newer: MetricsChanged) -> MetricsChanged:
    """One report with the latest value of every metric the two carry."""
    return MetricsChanged({**older.metrics, **newer.metrics}, newer.ts)


class Intake:
    def __init__(self, max_items: int = MAX_QUEUED) -> None:
        self.max_items = max_items
        self.coalesced = 0  # data reports merged into an earlier one (queue was full)
        self._items: deque[Queued] = deque()
        self._tail: dict[str, Queued] = {}  # each device's last queued entry
        self._ready = asyncio.Event()
        self._urgent = False  # an event or availability change is waiting
        self._lingering: asyncio.Future[None] | None = None  # take() waiting for more data
        self._closed = False

    def __len__(self) -> int:
        return len(self._items)

    def put(self, driver: Driver, update: DriverUpdate) -> None:
        if isinstance(update, MetricsChanged) and len(self._items) >= self.max_items:
            tail = self._tail.get(driver.id)
            if tail is not None and isinstance(tail.update, MetricsChanged):
                tail.update = merge(tail.update, update)
                self.coalesced += 1
                return
        entry = Queued(driver, update)
        self._items.append(entry)
        self._tail[driver.id] = entry
        self._ready.set()
        if not isinstance(update, MetricsChanged):
            self._hurry()

    def close(self) -> None:
        """No more updates: :meth:`take` returns what is left, then an empty batch."""
        self._closed = True
        self._ready.set()
        self._hurry()

    def _hurry(self) -> None:
        self._urgent = True
        if self._lingering is not None and not self._lingering.done():
            self._lingering.set_result(None)

    async def take(self, linger_s: float = 0.0) -> list[Queued]:
        """Every queued update, oldest first; waits while there is none.  An empty list
        means the intake is closed and drained.

        ``linger_s``: when the first update is data, wait that long for more before
        returning (unless an event or availability change comes first), so that one
        batch of publishes shares the socket work.  Data may be that much later; events
        are not held back."""
        while not self._items and not self._closed:
            self._ready.clear()
            await self._ready.wait()
        if linger_s > 0 and not self._urgent:
            # A future and a timer: asyncio.wait_for would add a task, a cancellation and
            # two exceptions to every batch, and the linger almost always runs out.
            loop = asyncio.get_running_loop()
            self._lingering = lingering = loop.create_future()
            timer = loop.call_later(linger_s, _wake, lingering)
            try:
                await lingering
            finally:
                timer.cancel()
                self._lingering = None
        self._urgent = False
        batch = list(self._items)
        self._items.clear()
        self._tail.clear()
        return batch


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
