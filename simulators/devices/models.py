"""Behaviour of the simulated Modbus field devices: data (point values named by the
profile's register map) and small actions (STYLE.md, after pymodbus' simulator).

A model knows nothing of Modbus framing: simulators/devices/server.py serves its points
through a real pymodbus server, encoding them with the gateway's own converters, and hands
it every write to accept or refuse.  The simulators drive a model with the verbs of a
scenario (a door forced, a panic button pressed, belongings stored); the gateway sees only
registers.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import ClassVar

from gateway.plan import PointValue, metrics_of
from protocol.modbus_map import ModbusMap, Scalar
from protocol.profiles import DeviceProfile

log = logging.getLogger(__name__)


class DeviceModel:
    """Point values with defaults; writable points accept any value that fits."""

    defaults: ClassVar[dict[str, Scalar]] = {}

    def __init__(self, profile: DeviceProfile) -> None:
        assert profile.modbus is not None, f"profile {profile.id} has no register map"
        self.profile = profile
        self.map: ModbusMap = profile.modbus
        self.points: dict[str, PointValue] = {}
        for name, p in self.map.points.items():
            default: Scalar = self.defaults.get(name, _zero(p.kind))
            self.points[name] = [default] * p.repeat if p.repeat > 1 else default
        self._timers: set[asyncio.TimerHandle] = set()

    def get(self, name: str, index: int | None = None) -> Scalar:
        value = self.points[name]
        if isinstance(value, list):
            assert index is not None, f"{name} is repeated: give an index"
            return value[index]
        return value

    def put(self, name: str, value: Scalar, index: int | None = None) -> None:
        current = self.points[name]
        if isinstance(current, list):
            assert index is not None, f"{name} is repeated: give an index"
            current[index] = value
        else:
            self.points[name] = value

    def write(self, name: str, index: int, value: Scalar) -> bool:
        """A Modbus master wrote ``value``; False refuses it (exception 3, illegal value)."""
        self.put(name, value, index if self.map.points[name].repeat > 1 else None)
        return True

    def metrics(self) -> dict[str, Scalar | list[str] | None]:
        """What the gateway should report for the current points."""
        return metrics_of(self.map, self.profile.metrics, self.points)

    def set_metrics(self, **metrics: Scalar) -> None:
        """Set metrics by name (scenario ``device: ID, set: {...}``)."""
        for name, value in metrics.items():
            src = self.map.source_of(name)
            if name not in self.profile.metrics or src.point is None:
                raise ValueError(f"{self.profile.id}: cannot set metric {name!r}")
            self.put(src.point, value)

    def later(self, delay_s: float, action: object) -> None:
        """Run ``action()`` after ``delay_s`` (a door swinging shut, a relock timer)."""
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle

        def run() -> None:
            self._timers.discard(handle)
            action()  # type: ignore[operator]
        handle = loop.call_later(delay_s, run)
        self._timers.add(handle)

    def cancel_timers(self) -> None:
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()

    def tick(self, rng: random.Random) -> None:
        """Called every few seconds while served: slow physical drift."""


def _zero(kind: str) -> Scalar:
    zeros: dict[str, Scalar] = {"bool": False, "string": ""}
    return zeros.get(kind, 0)


class DoorModel(DeviceModel):
    """A controlled door: contact, lock (relay + sensor), forced latch, change counter."""

    defaults: ClassVar[dict[str, Scalar]] = {"locked": True, "lock_relay": True}

    def __init__(self, profile: DeviceProfile) -> None:
        super().__init__(profile)
        self.lockdown = False  # set at the panel: the controller refuses to unlock

    def _contact(self, is_open: bool) -> None:
        if self.get("open") is is_open:
            return
        self.put("open", is_open)
        self.put("open_changes", (int(self.get("open_changes")) + 1) % 65536)

    def set_state(self, state: str) -> None:
        """Scenario ``door: ID, state: open|closed|forced``."""
        if state == "open":  # opened by someone entitled to (badge, key)
            self._contact(True)
        elif state == "closed":
            self._contact(False)
        elif state == "forced":  # opened while locked: the controller latches it
            self._contact(True)
            self.put("forced", True)
        else:
            raise ValueError(f"door state must be open|closed|forced, got {state!r}")

    def pass_through(self) -> None:
        """Someone badges through: the door opens and closes within a second; the lock is
        released and re-engaged by the reader, so no forced latch.  Only the change counter
        shows it to a poll that comes later."""
        self._contact(True)
        self._contact(False)

    def _set_lock(self, locked: bool) -> None:
        self.put("lock_relay", locked)
        self.put("locked", locked)

    def write(self, name: str, index: int, value: Scalar) -> bool:
        if name == "lock_relay":
            if self.lockdown and not value:
                return False
            self.cancel_timers()
            self._set_lock(bool(value))
            relock = int(self.get("relock_after_s"))
            if not value and relock > 0:
                self.later(relock, lambda: self._set_lock(True))
            return True
        if name == "reset_alarm":
            if value:  # a pulse: clears the latch, the coil does not stay set
                self.put("forced", False)
            return True
        if name == "relock_after_s":
            if not isinstance(value, int) or not 0 <= value <= 600:
                return False
        return super().write(name, index, value)


class PanicModel(DeviceModel):
    """A distress button: a press latches until the reset coil is pulsed."""

    def press(self) -> None:
        self.put("pressed", True)

    def write(self, name: str, index: int, value: Scalar) -> bool:
        if name == "reset_latch":
            if value:
                self.put("pressed", False)
            return True
        return super().write(name, index, value)


class EnvModel(DeviceModel):
    """Temperature and humidity drifting slowly around their set points."""

    defaults: ClassVar[dict[str, Scalar]] = {"temperature": 22.0, "humidity": 45.0}
    DRIFT = 0.3  # never far enough to cross a threshold by itself

    def __init__(self, profile: DeviceProfile) -> None:
        super().__init__(profile)
        self.setpoints = {"temperature": 22.0, "humidity": 45.0}

    def set_metrics(self, **metrics: Scalar) -> None:
        super().set_metrics(**metrics)
        for name, value in metrics.items():
            if isinstance(value, int | float):
                self.setpoints[name] = float(value)

    def tick(self, rng: random.Random) -> None:
        for name, target in self.setpoints.items():
            self.put(name, round(target + rng.uniform(-self.DRIFT, self.DRIFT), 1))


class SmokeModel(DeviceModel):
    """A smoke detector: the scenario sets smoke or fault."""


class LockerBankModel(DeviceModel):
    """24 lockers: door contact, lock relay, occupancy, assigned person."""

    defaults: ClassVar[dict[str, Scalar]] = {"locker_lock": True}
    DOOR_CLOSES_AFTER_S = 2.0

    @property
    def size(self) -> int:
        return self.map.points["locker_occupied"].repeat

    def locker_of(self, person: str) -> int | None:
        """1-based locker number assigned to ``person``."""
        for i in range(self.size):
            if self.get("locker_occupied", i) and self.get("locker_person", i) == person:
                return i + 1
        return None

    def store(self, person: str) -> int:
        """The terminal assigns a free locker; belongings in, door closed and locked."""
        existing = self.locker_of(person)
        if existing is not None:
            return existing
        free = next((i for i in range(self.size) if not self.get("locker_occupied", i)), None)
        if free is None:
            raise ValueError(f"all {self.size} lockers are occupied")
        self.put("locker_person", person, free)
        self.put("locker_occupied", True, free)
        return free + 1

    def empty(self, person: str) -> int | None:
        """Belongings returned: the locker is emptied and its assignment cleared."""
        locker = self.locker_of(person)
        if locker is None:
            return None
        self.put("locker_occupied", False, locker - 1)
        self.put("locker_person", "", locker - 1)
        return locker

    def write(self, name: str, index: int, value: Scalar) -> bool:
        if name == "locker_lock" and not value:
            # Released: the door springs open, someone shuts it, the lock re-engages.
            self.put("locker_lock", False, index)
            self.put("locker_open", True, index)

            def shut() -> None:
                self.put("locker_open", False, index)
                self.put("locker_lock", True, index)
            self.later(self.DOOR_CLOSES_AFTER_S, shut)
            return True
        return super().write(name, index, value)


MODELS: dict[str, type[DeviceModel]] = {
    "door": DoorModel, "panic": PanicModel, "env": EnvModel, "smoke": SmokeModel,
    "lockers": LockerBankModel,
}


def make_model(profile: DeviceProfile) -> DeviceModel:
    return MODELS.get(profile.id, DeviceModel)(profile)
