"""Simulated drivers for every profile of the reference centre (no hardware).

Each is a small state holder with methods the simulators call directly (an in-process seam:
``reader.enter(tag)``, ``recorder.set(recording=True)``, ``search.complete(person, officer)``,
``lockers.store(person)``, ``door.set_state("open")``, ``panic.press()``), emitting the same
updates a real driver would.  Doors, panic buttons, env, smoke and lockers stand in for the
Modbus field devices of node gw-1 until the real gateway lands (issue #5).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, ClassVar

from edge.drivers.base import (
    CommandReply,
    Driver,
    DriverEvent,
    Metrics,
    MetricsChanged,
    Params,
)
from protocol.codec import now_ms
from protocol.profiles import DeviceProfile
from protocol.site import DeviceRef

log = logging.getLogger(__name__)


class SimulatedDriver(Driver):
    """State in a dict; ``set(**metrics)`` reports the ones that changed by exception."""

    defaults: ClassVar[Metrics] = {}

    def __init__(self, device: DeviceRef, profile: DeviceProfile) -> None:
        super().__init__(device, profile)
        self.values: Metrics = {name: self.defaults.get(name) for name in profile.metrics}

    def metrics(self) -> Metrics:
        return dict(self.values)

    def _changed(self, metrics: Mapping[str, Any]) -> Metrics:
        unknown = set(metrics) - set(self.profile.metrics)
        if unknown:
            raise ValueError(f"{self.id}: no metrics {sorted(unknown)} in profile "
                             f"{self.profile.id!r}")
        changed = {k: v for k, v in metrics.items() if self.values.get(k) != v}
        self.values.update(changed)
        return changed

    def set(self, **metrics: Any) -> None:
        changed = self._changed(metrics)
        if changed:
            self.emit(MetricsChanged(changed))

    def _event(self, kind: str, data: Metrics | None = None, **metrics: Any) -> None:
        changed = self._changed(metrics)
        self.emit(DriverEvent(kind, data or {}, {k: self.values[k] for k in metrics} or changed))

    async def command(self, name: str, params: Params) -> CommandReply:
        if name in ("reboot", "resync") and name in self.profile.commands:
            self.emit(MetricsChanged(self.metrics()))
            return "done", ""
        return await super().command(name, params)


class SimulatedReader(SimulatedDriver):
    defaults: ClassVar[Metrics] = {"tags": [], "tag_count": 0}

    def tags(self) -> list[str]:
        return list(self.values["tags"] or [])  # type: ignore[arg-type]

    def enter(self, tag: str) -> None:
        tags = self.tags()
        if tag not in tags:
            tags = sorted([*tags, tag])
            self._event("tag_enter", {"tag": tag}, tags=tags, tag_count=len(tags))

    def leave(self, tag: str) -> None:
        tags = self.tags()
        if tag in tags:
            tags.remove(tag)
            self._event("tag_exit", {"tag": tag}, tags=tags, tag_count=len(tags))

    def tamper(self, tag: str) -> None:
        self._event("tag_tamper", {"tag": tag})


class SimulatedRecorder(SimulatedDriver):
    """``bytes_written`` grows with real time while recording, as a real recorder's would;
    the server's progress check (recording that is not really written) reads it."""

    defaults: ClassVar[Metrics] = {"recording": False, "segment": "", "bytes_written": 0,
                                   "disk_free_mb": 512_000}
    BYTES_PER_S = 500_000  # ~4 Mbit/s, a typical H.264 interview stream

    def __init__(self, device: DeviceRef, profile: DeviceProfile) -> None:
        super().__init__(device, profile)
        self._since: float | None = None
        self._segments = 0

    def _written(self) -> int:
        base = int(self.values["bytes_written"] or 0)  # type: ignore[arg-type]
        if self._since is None:
            return base
        return base + int((time.monotonic() - self._since) * self.BYTES_PER_S)

    def metrics(self) -> Metrics:
        return {**self.values, "bytes_written": self._written()}

    def set(self, **metrics: Any) -> None:
        recording = metrics.pop("recording", None)
        if metrics:
            super().set(**metrics)
        if recording is True and self._since is None:
            self._segments += 1
            self._since = time.monotonic()
            segment = f"{self.id}-{now_ms()}-{self._segments:04d}.mp4"
            self._event("recording_started", {"segment": segment}, recording=True,
                        segment=segment)
        elif recording is False and self._since is not None:
            self.values["bytes_written"] = self._written()
            self._since = None
            self._event("recording_stopped", {}, recording=False,
                        bytes_written=self.values["bytes_written"])

    async def command(self, name: str, params: Params) -> CommandReply:
        if name == "start_recording":
            self.set(recording=True)
            return "done", ""
        if name == "stop_recording":
            self.set(recording=False)
            return "done", ""
        return await super().command(name, params)


class SimulatedSearchTerminal(SimulatedDriver):
    defaults: ClassVar[Metrics] = {"in_progress": ""}

    def start(self, person: str, officer: str | None = None) -> None:
        self._event("search_started", {"person": person, "officer": officer},
                    in_progress=person)

    def complete(self, person: str, officer: str | None = None) -> None:
        self._event("search_completed", {"person": person, "officer": officer}, in_progress="")


class SimulatedCamera(SimulatedDriver):
    defaults: ClassVar[Metrics] = {"online": True, "fps": 25.0, "last_frame_ts": 0,
                                   "width": 1920, "height": 1080, "diagnosis": "ok"}

    def metrics(self) -> Metrics:
        # A healthy camera delivers frames continuously: its last frame is "now".
        if self.values["online"] and self.values["diagnosis"] != "frozen":
            self.values["last_frame_ts"] = now_ms()
        return dict(self.values)


class SimulatedDoor(SimulatedDriver):
    defaults: ClassVar[Metrics] = {"open": False, "locked": True, "forced": False}

    def set_state(self, state: str) -> None:
        if state == "open":
            self._event("door_opened", {}, open=True)
        elif state == "closed":
            self._event("door_closed", {}, open=False)
        elif state == "forced":
            self._event("door_forced", {}, open=True, forced=True)
        else:
            raise ValueError(f"{self.id}: door state must be open|closed|forced, got {state!r}")

    def pass_through(self) -> None:
        """Someone badges through: unlock, open, close, lock (no alarm by design)."""
        self.set(locked=False)
        self.set_state("open")
        self.set_state("closed")
        self.set(locked=True)

    async def command(self, name: str, params: Params) -> CommandReply:
        if name == "unlock":
            self.set(locked=False)
            return "done", ""
        if name == "lock":
            self.set(locked=True)
            return "done", ""
        if name == "reset_alarm":
            self.set(forced=False)
            return "done", ""
        return await super().command(name, params)


class SimulatedPanic(SimulatedDriver):
    defaults: ClassVar[Metrics] = {"pressed": False}

    def press(self) -> None:
        self._event("panic_pressed", {}, pressed=True)

    def reset(self) -> None:
        self._event("panic_reset", {}, pressed=False)

    async def command(self, name: str, params: Params) -> CommandReply:
        if name == "reset":
            self.reset()
            return "done", ""
        return await super().command(name, params)


class SimulatedEnv(SimulatedDriver):
    defaults: ClassVar[Metrics] = {"temperature": 22.0, "humidity": 45.0}


class SimulatedSmoke(SimulatedDriver):
    defaults: ClassVar[Metrics] = {"smoke": False, "fault": False}


class SimulatedLockers(SimulatedDriver):
    """A bank of 24 lockers; ``occupied`` lists ``"<locker>:<person>"``."""

    defaults: ClassVar[Metrics] = {"occupied": [], "open": []}
    LOCKERS = 24

    def _occupied(self) -> dict[int, str]:
        pairs = (s.split(":", 1) for s in self.values["occupied"] or [])  # type: ignore[union-attr]
        return {int(n): p for n, p in pairs}

    def locker_of(self, person: str) -> int | None:
        return next((n for n, p in self._occupied().items() if p == person), None)

    def store(self, person: str) -> int:
        """Assign a free locker, fill and lock it; returns its number."""
        existing = self.locker_of(person)
        if existing is not None:
            return existing
        occupied = self._occupied()
        free = next((n for n in range(1, self.LOCKERS + 1) if n not in occupied), None)
        if free is None:
            raise ValueError(f"{self.id}: all {self.LOCKERS} lockers are occupied")
        occupied[free] = person
        self.set(open=[str(free)])
        self._event("locker_stored", {"locker": free, "person": person},
                    occupied=[f"{n}:{p}" for n, p in sorted(occupied.items())], open=[])
        return free

    def empty(self, person: str) -> int | None:
        """Open the person's locker, empty and close it; returns its number (None if none)."""
        locker = self.locker_of(person)
        if locker is None:
            return None
        occupied = self._occupied()
        del occupied[locker]
        self.set(open=[str(locker)])
        self._event("locker_emptied", {"locker": locker, "person": person},
                    occupied=[f"{n}:{p}" for n, p in sorted(occupied.items())], open=[])
        return locker

    async def command(self, name: str, params: Params) -> CommandReply:
        if name == "open_locker":
            locker = params.get("locker")
            if not isinstance(locker, int) or not 1 <= locker <= self.LOCKERS:
                return "refused", "locker must be 1..24"
            self.set(open=[str(locker)])
            self.set(open=[])
            return "done", ""
        return await super().command(name, params)


SIMULATED_DRIVERS: dict[str, type[SimulatedDriver]] = {
    "reader": SimulatedReader,
    "recorder": SimulatedRecorder,
    "search": SimulatedSearchTerminal,
    "camera": SimulatedCamera,
    "door": SimulatedDoor,
    "panic": SimulatedPanic,
    "env": SimulatedEnv,
    "smoke": SimulatedSmoke,
    "lockers": SimulatedLockers,
}


def make_simulated_driver(device: DeviceRef, profile: DeviceProfile) -> SimulatedDriver:
    """The simulated driver for a device; a profile without one gets the generic driver."""
    cls = SIMULATED_DRIVERS.get(profile.id, SimulatedDriver)
    return cls(device, profile)
