"""One Modbus device as an edge driver: its poll loop, its health, its commands.

:class:`ModbusDevice` implements the edge :class:`~edge.drivers.base.Driver` interface, so
the gateway's MQTT session is the edge agent's (births, seq, outbox, acks, DeviceLost,
CommandResult); this module only speaks Modbus.  Each poll reads the device's planned
requests (gateway/plan.py), decodes them, and emits what changed: profile events derived
from transitions (gateway/events.py) and the other changed metrics; the agent adds the
periodic full report.  Failures go to the device's circuit breaker (gateway/health.py):
lost after ``lost_after`` failed polls, probed at a back-off, born again on its first
answer.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import ParamSpec, TypeVar

from edge.drivers.base import (
    Availability,
    CommandReply,
    Driver,
    DriverEvent,
    Metrics,
    MetricsChanged,
    Params,
)
from gateway.bus import Bus
from gateway.commands import Expectation, PlannedWrite, plan_command
from gateway.config import DeviceSpec, HealthConfig
from gateway.convert import decode, encode
from gateway.errors import CommandRefused, DeviceError, DeviceTimeout, ModbusRefused
from gateway.events import counter_delta, derive, rules_by_metric
from gateway.health import Breaker, Schedule
from gateway.plan import Image, PollDecoder, Read, Registers, plan_for, plan_reads, polled_points
from protocol.modbus_map import ModbusMap
from protocol.reasons import InfoValue, lost_info

log = logging.getLogger(__name__)

PollObserver = Callable[[str, float, float], None]
"""(device id, when the poll was due, when it started), loop clock; for the benchmark."""
CONFIRM_INTERVAL_S = 0.05
POLL_TICK_MS = 50
"""Poll slots are multiples of 50 ms on the loop clock (when the poll period is a multiple
of it): 100 devices at 1 Hz wake in 20 groups of about 5 per second, each group in one turn
of the event loop, and their answers and their data reports (the agent lingers 50 ms for
more data) share turns and socket writes too.  One timer wakeup per device, spread evenly,
cost each poll several loop turns of its own (docs/gateway.md, Benchmark)."""
T = TypeVar("T")
P = ParamSpec("P")

ERROR_KINDS = ("timeout", "unreachable", "exception", "bad_response", "out_of_range",
               "internal")
"""What goes wrong with a device, counted per device and published as the metrics
``modbus_errors_<kind>`` (plus ``modbus_last_error``, the last reason) in its births and
periodic full reports: no answer, no connection, a Modbus exception response, a garbage or
short frame (or one that decodes to nonsense), a value outside its profile metric's range,
a gateway bug.  Logged once per device and reason (kind, and metric for out_of_range)."""
ERROR_METRICS = {kind: f"modbus_errors_{kind}" for kind in ERROR_KINDS}
LAST_ERROR_METRIC = "modbus_last_error"


class ModbusDevice(Driver):
    def __init__(self, spec: DeviceSpec, bus: Bus, health: HealthConfig | None = None,
                 rng: random.Random | None = None) -> None:
        super().__init__(spec.ref, spec.profile)
        assert spec.profile.modbus is not None, f"{spec.ref.id}: profile has no modbus map"
        self.map: ModbusMap = spec.profile.modbus
        self.bus = bus
        self.unit = spec.unit
        self.poll_s = (spec.poll_ms or self.map.poll_ms) / 1000
        self.timeout_s = (spec.timeout_ms or self.map.timeout_ms) / 1000
        self.retries = self.map.retries if spec.retries is None else spec.retries
        health = health or HealthConfig()
        self.rng = rng or random.Random()
        self.breaker = Breaker(health.lost_after, health.backoff_min_s, health.backoff_max_s,
                               rng=self.rng)
        self.polled = polled_points(self.map, spec.profile.metrics)
        self.reads = plan_for(self.map, self.polled)
        self.decoder = PollDecoder(self.map, self.reads, self.polled, spec.profile.metrics)
        self._rules = rules_by_metric(self.map)
        self.values: Metrics = {}
        # The answers self.values were decoded from: the same answers again mean nothing
        # changed (report by exception), so the poll decodes and compares nothing.
        self._answers: list[Registers] | None = None
        self._out_of_range: list[tuple[str, str]] = []  # (metric, detail) of those answers
        self._counters: dict[str, int] = {}
        self.online = False
        self.set_lost(lost_info("not_polled"), "not polled yet")
        self.polls = 0
        self.errors: Counter[str] = Counter()
        self.last_error = ""
        self._logged: set[tuple[str, str]] = set()  # (kind, metric) already logged
        specs = spec.profile.metrics
        self._ranges = {name: (m.min, m.max) for name, m in specs.items()
                        if m.min is not None or m.max is not None}
        self.observer: PollObserver | None = None
        self._sleeping: asyncio.Future[None] | None = None  # run() waiting for its slot
        self._wake_soon = False  # poll_soon() while no sleep was waiting
        self._stopped = False

    def metrics(self) -> Metrics:
        """Every profile metric, then the error counters (births and full reports)."""
        out: Metrics = dict(self.values)
        for kind, name in ERROR_METRICS.items():
            out[name] = self.errors[kind]
        out[LAST_ERROR_METRIC] = self.last_error
        return out

    def note_error(self, kind: str, detail: str, metric: str = "",
                   exc_info: bool = False) -> None:
        """Count one failure; log it the first time this device fails this way only (the
        counters tell how often; a poll loop must not flood the log)."""
        self.errors[kind] += 1
        self.last_error = detail[:200]
        if (kind, metric) not in self._logged:
            self._logged.add((kind, metric))
            log.error("device %s (bus %s, unit %d): %s: %s (logged once; counted in "
                      "modbus_errors_%s)", self.id, self.bus.id, self.unit, kind, detail, kind,
                      exc_info=exc_info)

    def _in_range(self, metrics: Metrics) -> None:
        """A value outside its profile metric's range (a sensor's fault code, a wrong
        scale) is not reported as a reading: it becomes None (unknown) and is counted."""
        self._out_of_range = []
        for name, (low, high) in self._ranges.items():
            value = metrics.get(name)
            if isinstance(value, int | float) and not isinstance(value, bool) and (
                    (low is not None and value < low) or (high is not None and value > high)):
                metrics[name] = None
                self._out_of_range.append((name, f"{name} reads {value}, outside "
                                                 f"{low}..{high}"))
        for name, detail in self._out_of_range:
            self.note_error("out_of_range", detail, name)

    # ------------------------------------------------------------------ requests

    async def _retrying(self, request: Callable[P, Awaitable[T]], *args: P.args,
                        **kwargs: P.kwargs) -> T:
        """Run one request with the device's retries (a Modbus exception is an answer, not
        a reason to retry; an unreachable bus will not be reachable 1 ms later either)."""
        for attempt in range(self.retries + 1):
            try:
                return await request(*args, **kwargs)
            except (ModbusRefused, CommandRefused):
                raise
            except DeviceError as err:
                self.note_error(err.kind, err.detail)
                if attempt == self.retries or err.kind == "unreachable":
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def read_answers(self, reads: list[Read]) -> list[Registers]:
        answers: list[Registers] = []
        for r in reads:
            answers.append(await self._retrying(self.bus.read, self.id, self.unit, r,
                                                self.timeout_s))
        return answers

    async def read_image(self, reads: list[Read]) -> Image:
        image = Image()
        for r, values in zip(reads, await self.read_answers(reads), strict=True):
            image.add(r, values)
        return image

    # ------------------------------------------------------------------ polling

    async def poll_once(self) -> bool:
        """One poll: read, decode, report what changed.  True if the device answered."""
        self.polls += 1
        try:
            answers = await self.read_answers(self.reads)
            if answers == self._answers and self.online:
                return self._unchanged()
            points = self.decoder.points(answers)
        except DeviceError as err:
            if isinstance(err, ModbusRefused):
                self.note_error(err.kind, err.detail)
            self._failed(err.detail, err.info)
            return False
        except (ValueError, KeyError) as err:  # a frame that decodes to nonsense
            self.note_error("bad_response", f"undecodable answer: {err}")
            self._failed(f"undecodable answer: {err}", lost_info("bad_frame"))
            return False
        metrics = self.decoder.metrics(points)
        if self._ranges:
            self._in_range(metrics)
        counters = {metric: int(points[ref])  # type: ignore[arg-type]
                    for metric, ref in self.decoder.counters}
        recovered = self.breaker.success() == "recovered"
        if not self.online or recovered:
            self.values, self._counters, self._answers = metrics, counters, answers
            self.set_available(True)  # the agent announces a DeviceBirth with every value
            return True
        changes = {m: counter_delta(self._counters[m], v) for m, v in counters.items()
                   if m in self._counters}
        events, data = derive(self.map, self.values, metrics, changes, self._rules)
        self.values, self._counters, self._answers = metrics, counters, answers
        for e in events:
            self.emit(DriverEvent(e.kind, e.data, e.metrics))
        if data:
            self.emit(MetricsChanged(data))
        return True

    def _unchanged(self) -> bool:
        """The device answered what it answered last time: same metrics, same change
        counters, so no event and no data; a value out of range is counted again, as
        every poll that reads it is."""
        for name, detail in self._out_of_range:
            self.note_error("out_of_range", detail, name)
        self.breaker.success()  # online, so never "recovered": a lost device is offline
        return True

    def set_available(self, online: bool, reason: str = "") -> None:
        """As the base driver, but a lost device is a warning: someone should look."""
        if online == self.online:
            return
        self.online, self.offline_reason = online, "" if online else reason
        if online:
            log.info("device %s answers again (bus %s, unit %d)", self.id, self.bus.id,
                     self.unit)
        else:
            log.warning("device %s lost: %s", self.id, reason)
        self.emit(Availability(online, reason))

    def _failed(self, reason: str, info: Mapping[str, InfoValue]) -> None:
        """A poll failed: lost once the breaker says so, with why as data (DeviceLost's
        info); while not online (lost, or never born) the reason the next birth gives."""
        if self.breaker.failure(reason) == "lost" or not self.online:
            self.set_lost(info, reason)

    async def run(self) -> None:
        """Poll forever on a jittered fixed-rate schedule; probe at back-off while lost."""
        loop = asyncio.get_running_loop()
        poll_ms = round(self.poll_s * 1000)
        tick_s = POLL_TICK_MS / 1000 if poll_ms % POLL_TICK_MS == 0 else 0.0
        schedule = Schedule.jittered(self.poll_s, loop.time(), self.rng, tick_s)
        while not self._stopped:
            lost = self.breaker.lost
            due = loop.time() + self.breaker.probe_delay() if lost else schedule.due
            await self._sleep_until(loop, due)
            if self._stopped:
                return
            started = loop.time()
            if self.observer is not None and not lost:
                self.observer(self.id, due, started)
            try:
                answered = await self.poll_once()
            except Exception as err:  # a bug in one device's map must not stop the others
                self.note_error("internal", f"gateway error: {err!r}", exc_info=True)
                self._failed(f"gateway error: {err}", lost_info("internal"))
                answered = False
            if lost and answered:
                schedule.resume(loop.time())
            elif not self.breaker.lost:
                schedule.advance(loop.time())

    async def _sleep_until(self, loop: asyncio.AbstractEventLoop, due: float) -> None:
        """Sleep until ``due`` or :meth:`poll_soon`, whichever comes first: one future and
        one timer (asyncio.timeout around an Event would add a cancellation and two
        exceptions to every poll)."""
        if self._wake_soon:
            self._wake_soon = False
            return
        self._sleeping = sleeping = loop.create_future()
        timer = loop.call_at(due, _wake, sleeping)
        try:
            await sleeping
        finally:
            timer.cancel()
            self._sleeping = None

    def stop(self) -> None:
        """End :meth:`run` at its next step.  Cancelling alone is not enough on Python
        3.11: asyncio.wait_for (inside pymodbus) can swallow a cancellation that arrives
        together with the answer it was waiting for."""
        self._stopped = True
        self.poll_soon()

    def poll_soon(self) -> None:
        """Poll now instead of at the next slot (after a command changed the device)."""
        if self._sleeping is not None and not self._sleeping.done():
            self._sleeping.set_result(None)
        else:
            self._wake_soon = True

    # ------------------------------------------------------------------ commands

    async def command(self, name: str, params: Params) -> CommandReply:
        command = self.map.commands.get(name)
        if command is None:
            return await super().command(name, params)
        try:
            writes, expect = plan_command(self.map, command, self.profile.commands[name],
                                          params)
            for w in writes:
                await self._write(w)
            problem = await self._confirm(expect, command.confirm_ms / 1000)
        except CommandRefused as err:
            return "refused", str(err)
        except ModbusRefused as err:
            return "refused", err.detail
        except DeviceError as err:
            return "timeout", err.detail
        finally:
            self.poll_soon()
        return ("done", "") if problem is None else ("timeout", problem)

    async def _write(self, w: PlannedWrite) -> None:
        current = 0
        if w.point.bit is not None:  # a bit field: read-modify-write its register
            image = await self.read_image([Read(w.point.table, w.address, 1)])
            current = int(image.get(w.point.table, w.address, 1)[0])
        values = encode(w.point, w.value, self.map.byte_order, self.map.word_order, current)
        await self._retrying(self.bus.write, self.id, self.unit, w.point.table, w.address,
                             values, self.timeout_s)

    async def _confirm(self, expect: list[Expectation], within_s: float) -> str | None:
        """None once every expectation reads back, else what still differs at the end."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        reads = plan_reads({f"{e.name}.{e.index}": e.point for e in expect},
                           self.map.max_read_registers, self.map.max_read_bits,
                           self.map.max_gap)
        problem = "no answer"
        while True:
            try:
                image = await self.read_image(reads)
                wrong = []
                for e in expect:
                    raw = image.get(e.point.table, e.point.element_address(e.index),
                                    e.point.width)
                    got = decode(e.point, raw, self.map.byte_order, self.map.word_order)
                    if got != e.value:
                        wrong.append(f"{e.name} reads {got!r}, expected {e.value!r}")
                if not wrong:
                    return None
                problem = "; ".join(wrong)
            except DeviceTimeout as err:
                problem = err.detail
            if loop.time() + CONFIRM_INTERVAL_S > deadline:
                return f"not confirmed within {within_s * 1000:.0f} ms: {problem}"
            await asyncio.sleep(CONFIRM_INTERVAL_S)


def _wake(sleeping: asyncio.Future[None]) -> None:
    if not sleeping.done():
        sleeping.set_result(None)
