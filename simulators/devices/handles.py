"""The simulated centre's handles on its Modbus field devices.

The scenario player, the crowd and the ambient demo drive devices through the simulated
drivers' methods (``door.set_state``, ``door.pass_through``, ``panic.press``,
``lockers.store``, ``driver.set``, ``driver.set_available``) and pick them by class.  For a
device behind the real gateway those verbs must act on the *field device* (its model, its
pymodbus server), not publish anything themselves: a handle is that device's simulated
driver class with every verb redirected to the field device.  The gateway alone reports.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from edge.drivers.base import Metrics
from edge.drivers.simulated import (
    SimulatedDoor,
    SimulatedDriver,
    SimulatedEnv,
    SimulatedLockers,
    SimulatedPanic,
    SimulatedSmoke,
)
from protocol.profiles import DeviceProfile
from protocol.site import DeviceRef
from simulators.devices.models import DeviceModel, DoorModel, LockerBankModel, PanicModel
from simulators.devices.server import FieldDevice

log = logging.getLogger(__name__)


class FieldHandle(SimulatedDriver):
    """Verbs common to every field device: set metrics, power off and on."""

    def __init__(self, device: DeviceRef, profile: DeviceProfile, field: FieldDevice) -> None:
        super().__init__(device, profile)
        self.field = field
        self._power = asyncio.Lock()
        self._switching: set[asyncio.Task[None]] = set()

    @property
    def model(self) -> DeviceModel:
        return self.field.model

    def metrics(self) -> Metrics:
        return dict(self.model.metrics())  # what the gateway should be reporting

    def set(self, **metrics: Any) -> None:
        self.model.set_metrics(**metrics)

    def set_available(self, online: bool, reason: str = "") -> None:
        """Scenario ``fault``: offline powers the device off (its server closes), restore
        powers it on again, in the order the faults were given."""
        log.info("field device %s powered %s%s", self.id, "on" if online else "off",
                 f" ({reason})" if reason else "")
        self.online, self.offline_reason = online, "" if online else reason
        task = asyncio.get_running_loop().create_task(self._switch(online),
                                                      name=f"sim:{self.id}:power")
        self._switching.add(task)
        task.add_done_callback(self._switching.discard)

    async def _switch(self, online: bool) -> None:
        async with self._power:
            await (self.field.start() if online else self.field.stop())


class ModbusDoor(FieldHandle, SimulatedDoor):
    @property
    def door(self) -> DoorModel:
        assert isinstance(self.model, DoorModel)
        return self.model

    def set_state(self, state: str) -> None:
        self.door.set_state(state)

    def pass_through(self) -> None:
        self.door.pass_through()


class ModbusPanic(FieldHandle, SimulatedPanic):
    def press(self) -> None:
        assert isinstance(self.model, PanicModel)
        self.model.press()

    def reset(self) -> None:  # the button's key switch, on site
        self.model.put("pressed", False)


class ModbusEnv(FieldHandle, SimulatedEnv):
    pass


class ModbusSmoke(FieldHandle, SimulatedSmoke):
    pass


class ModbusLockers(FieldHandle, SimulatedLockers):
    @property
    def bank(self) -> LockerBankModel:
        assert isinstance(self.model, LockerBankModel)
        return self.model

    def locker_of(self, person: str) -> int | None:
        return self.bank.locker_of(person)

    def store(self, person: str) -> int:
        return self.bank.store(person)

    def empty(self, person: str) -> int | None:
        return self.bank.empty(person)


HANDLES: dict[str, type[FieldHandle]] = {
    "door": ModbusDoor, "panic": ModbusPanic, "env": ModbusEnv, "smoke": ModbusSmoke,
    "lockers": ModbusLockers,
}


def make_handle(device: DeviceRef, profile: DeviceProfile, field: FieldDevice) -> FieldHandle:
    return HANDLES.get(profile.id, FieldHandle)(device, profile, field)
