"""Modbus RTU over a virtual serial pair (socat): the same polling, events, commands and
loss detection as over TCP, with the bus lock and the inter-frame gap of a serial line."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.drivers.base import Availability, DriverEvent, DriverUpdate
from gateway.bus import Bus, frame_gap_s
from gateway.config import RtuBusConfig
from gateway.device import ModbusDevice
from protocol.profiles import ProfileSet
from simulators.devices.models import PanicModel, make_model
from simulators.devices.server import FieldDevice
from tests.gateway.conftest import FAST_HEALTH, spec


@pytest.fixture
def serial_pair(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two linked pseudo-terminals: what one end writes, the other reads.  (A pty refuses
    even parity when opened exclusively, so both ends use 8N1 here.)"""
    socat = shutil.which("socat")
    if socat is None:
        pytest.fail("socat is not installed (apt-get install -y socat)")
    a, b = tmp_path / "ttyA", tmp_path / "ttyB"
    process = subprocess.Popen([socat, f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 5
        while not (a.exists() and b.exists()):
            assert time.monotonic() < deadline, "socat did not create the pair"
            time.sleep(0.02)
        yield str(a), str(b)
    finally:
        process.terminate()
        process.wait(5)


def test_the_gap_is_three_and_a_half_characters() -> None:
    """19,200 baud 8E1: 11 bits a character, 3.5 of them ≈ 2 ms; above 19,200: 1.75 ms."""
    assert frame_gap_s(RtuBusConfig(id="a", kind="rtu", port="/dev/x")) == pytest.approx(
        3.5 * 11 / 19_200)
    assert frame_gap_s(RtuBusConfig(id="a", kind="rtu", port="/dev/x",
                                    baudrate=115_200)) == 0.00175


async def test_rtu_polling_events_commands_and_loss(serial_pair: tuple[str, str],
                                                    profiles: ProfileSet) -> None:
    """A panic button on a serial line: polled, pressed -> panic_pressed, reset command
    confirmed by read-back; its server stopped -> lost; started again -> born."""
    device_end, gateway_end = serial_pair
    updates: list[DriverUpdate] = []
    model = make_model(profiles["panic"])
    assert isinstance(model, PanicModel)
    field = FieldDevice(model, unit=7, serial=device_end, parity="N",
                        device_id="panic-rtu")
    bus = Bus(RtuBusConfig(id="rs485", kind="rtu", port=gateway_end, parity="N"), timeout_s=1.0)
    device = ModbusDevice(spec("panic-rtu", profiles["panic"], "rs485", unit=7), bus,
                          FAST_HEALTH)
    device.attach(lambda d, u: updates.append(u))
    try:
        async with field:
            assert await device.poll_once() and device.online
            model.press()
            assert await device.poll_once()
            assert [u.kind for u in updates if isinstance(u, DriverEvent)] == ["panic_pressed"]
            assert await device.command("reset", {}) == ("done", "")
            assert await device.poll_once()
            assert [u.kind for u in updates if isinstance(u, DriverEvent)][-1] == "panic_reset"
        for _ in range(FAST_HEALTH.lost_after):  # the server is gone: silence on the line
            assert not await device.poll_once()
        assert [u.online for u in updates if isinstance(u, Availability)][-1] is False
        assert bus.errors["timeout"] >= 1
        async with field:
            assert await device.poll_once()
        assert [u.online for u in updates if isinstance(u, Availability)][-1] is True
    finally:
        bus.close()


async def test_devices_sharing_a_serial_bus_take_turns(serial_pair: tuple[str, str],
                                                       profiles: ProfileSet) -> None:
    """Two pollers on one line never interleave frames: concurrent polls of the same
    device all succeed, in turn, under the bus lock."""
    device_end, gateway_end = serial_pair
    async with FieldDevice(make_model(profiles["env"]), serial=device_end, parity="N",
                           device_id="env-rtu"):
        bus = Bus(RtuBusConfig(id="rs485", kind="rtu", port=gateway_end, parity="N"), timeout_s=1.0)
        a = ModbusDevice(spec("env-a", profiles["env"], "rs485"), bus, FAST_HEALTH)
        b = ModbusDevice(spec("env-b", profiles["env"], "rs485"), bus, FAST_HEALTH)
        try:
            results = await asyncio.gather(*(d.poll_once() for d in (a, b, a, b, a, b)))
        finally:
            bus.close()
    assert all(results)
    assert a.values == b.values == {"temperature": 22.0, "humidity": 45.0}
    assert sum(bus.errors.values()) == 0
