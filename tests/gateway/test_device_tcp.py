"""The gateway's devices against real pymodbus servers over TCP: polling, report by
exception, a device killed and restarted, commands confirmed by read-back, commands to a
dead device, and bad input (exception responses, garbage frames) as device states."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from edge.drivers.base import Availability, DriverEvent, DriverUpdate, MetricsChanged
from gateway.bus import Bus
from gateway.config import DeviceSpec, TcpBusConfig
from gateway.device import ModbusDevice
from protocol.profiles import ProfileSet
from simulators.devices.models import DoorModel, LockerBankModel, PanicModel, make_model
from simulators.devices.server import FieldDevice
from tests.gateway.conftest import FAST_HEALTH, rig, spec


def is_event(kind: str, device: str | None = None):  # type: ignore[no-untyped-def]
    return lambda d, u: isinstance(u, DriverEvent) and u.kind == kind \
        and (device is None or d == device)


def availability(device: str, online: bool):  # type: ignore[no-untyped-def]
    return lambda d, u: d == device and isinstance(u, Availability) and u.online is online


async def test_polling_reports_only_changes_as_events_and_data(profiles: ProfileSet) -> None:
    """Born with every value at start-up; then nothing while nothing changes; a press, a
    forced door, a short passage (counter) and a temperature change arrive as events or
    data by exception."""
    devices = [("panic-a", profiles["panic"]), ("door-a", profiles["door"]),
               ("env-a", profiles["env"])]
    async with rig(devices) as r:
        gw = r.gateway
        assert all(d.online for d in gw.devices.values())
        assert gw.devices["env-a"].values == {"temperature": 22.0, "humidity": 45.0}
        polls = gw.devices["panic-a"].polls
        await asyncio.sleep(0.6)
        assert gw.devices["panic-a"].polls > polls  # polled, yet nothing reported:
        assert [u for _, u in r.recorder.updates if not isinstance(u, Availability)] == []

        panic = r.fields["panic-a"].model
        assert isinstance(panic, PanicModel)
        panic.press()
        pressed = await r.recorder.wait_for(is_event("panic_pressed", "panic-a"))
        assert isinstance(pressed, DriverEvent) and pressed.metrics == {"pressed": True}

        door = r.fields["door-a"].model
        assert isinstance(door, DoorModel)
        door.pass_through()
        await r.recorder.wait_for(is_event("door_closed", "door-a"))
        door.set_state("forced")
        await r.recorder.wait_for(is_event("door_forced", "door-a"))
        kinds = [u.kind for u in r.recorder.of("door-a") if isinstance(u, DriverEvent)]
        assert kinds == ["door_opened", "door_closed", "door_opened", "door_forced"]

        r.fields["env-a"].model.set_metrics(temperature=31.5)
        data = await r.recorder.wait_for(lambda d, u: d == "env-a"
                                         and isinstance(u, MetricsChanged))
        assert isinstance(data, MetricsChanged)
        assert data.metrics["temperature"] == 31.5


async def test_a_killed_device_is_lost_and_reborn_while_others_keep_polling(
        profiles: ProfileSet) -> None:
    """Stopping one device's server: it is announced lost (with the reason) and probed at
    back-off; the other device's changes still arrive; restarting it brings it back."""
    devices = [("panic-a", profiles["panic"]), ("panic-b", profiles["panic"])]
    async with rig(devices) as r:
        await r.fields["panic-a"].stop()
        lost = await r.recorder.wait_for(availability("panic-a", False))
        assert isinstance(lost, Availability) and lost.reason
        assert r.gateway.devices["panic-a"].breaker.lost

        other = r.fields["panic-b"].model
        assert isinstance(other, PanicModel)
        other.press()
        await r.recorder.wait_for(is_event("panic_pressed", "panic-b"))

        model = r.fields["panic-a"].model
        assert isinstance(model, PanicModel)
        model.press()  # pressed while unreachable: the birth will carry it
        mark = r.recorder.mark()
        await r.fields["panic-a"].start()
        await r.recorder.wait_for(availability("panic-a", True), after=mark)
        assert r.gateway.devices["panic-a"].values == {"pressed": True}
        assert r.gateway.errors()["unreachable"] >= 1


async def test_commands_are_written_and_confirmed_by_read_back(profiles: ProfileSet) -> None:
    """unlock/lock/reset_alarm on a door, reset on a panic button and open_locker on the
    locker bank are done once the device reads back the expected state."""
    devices = [("door-a", profiles["door"]), ("panic-a", profiles["panic"]),
               ("lockers-a", profiles["lockers"])]
    async with rig(devices) as r:
        gw = r.gateway
        door = r.fields["door-a"].model
        assert isinstance(door, DoorModel)
        assert await gw.devices["door-a"].command("unlock", {"duration_s": 30}) == ("done", "")
        assert door.get("locked") is False and door.get("relock_after_s") == 30
        await r.recorder.wait_for(lambda d, u: d == "door-a" and isinstance(u, MetricsChanged)
                                  and u.metrics.get("locked") is False)
        assert await gw.devices["door-a"].command("lock", {}) == ("done", "")
        door.set_state("forced")
        await r.recorder.wait_for(is_event("door_forced", "door-a"))
        assert await gw.devices["door-a"].command("reset_alarm", {}) == ("done", "")
        assert door.get("forced") is False

        panic = r.fields["panic-a"].model
        assert isinstance(panic, PanicModel)
        panic.press()
        await r.recorder.wait_for(is_event("panic_pressed", "panic-a"))
        assert await gw.devices["panic-a"].command("reset", {}) == ("done", "")
        await r.recorder.wait_for(is_event("panic_reset", "panic-a"))

        bank = r.fields["lockers-a"].model
        assert isinstance(bank, LockerBankModel)
        bank.store("S1")
        await r.recorder.wait_for(is_event("locker_stored", "lockers-a"))
        assert await gw.devices["lockers-a"].command("open_locker", {"locker": 1}) == (
            "done", "")


async def test_refused_commands_say_why(profiles: ProfileSet) -> None:
    """A param out of range is refused before anything is written; a door in lockdown
    answers the unlock with exception 3, which is a refusal, not a failure."""
    async with rig([("door-a", profiles["door"]), ("lockers-a", profiles["lockers"])]) as r:
        gw = r.gateway
        status, detail = await gw.devices["lockers-a"].command("open_locker", {"locker": 25})
        assert status == "refused" and "1..24" in detail
        status, detail = await gw.devices["lockers-a"].command("open_locker", {})
        assert status == "refused" and "required" in detail
        door = r.fields["door-a"].model
        assert isinstance(door, DoorModel)
        door.lockdown = True
        status, detail = await gw.devices["door-a"].command("unlock", {})
        assert status == "refused" and "exception 3" in detail
        assert door.get("locked") is True
        status, _ = await gw.devices["door-a"].command("reboot", {})
        assert status == "unknown_command"


async def test_a_command_to_a_dead_device_times_out_cleanly(profiles: ProfileSet) -> None:
    """The device's server is gone (refused) or hung (no answer): the command returns
    "timeout" with the reason, and the gateway carries on."""
    async with rig([("door-a", profiles["door"]), ("door-b", profiles["door"])]) as r:
        gw = r.gateway
        await r.fields["door-a"].stop()
        status, detail = await gw.devices["door-a"].command("unlock", {"duration_s": 5})
        assert status == "timeout" and "door-a" in detail
        r.fields["door-b"].hang()
        status, detail = await gw.devices["door-b"].command("lock", {})
        assert status == "timeout" and "no answer within" in detail
        await r.recorder.wait_for(availability("door-b", False))
        mark = r.recorder.mark()
        r.fields["door-b"].unhang()
        await r.recorder.wait_for(availability("door-b", True), after=mark)


async def test_exception_responses_become_a_device_state(profiles: ProfileSet) -> None:
    """A map that reads registers the device does not have: every poll gets exception 2;
    the device is lost with that reason and the errors are counted, the gateway lives."""
    smoke = profiles["smoke"]
    assert smoke.modbus is not None
    shifted = smoke.modbus.model_copy(update={"points": {
        n: p.model_copy(update={"address": p.address + 40})
        for n, p in smoke.modbus.points.items()}})
    wrong = smoke.model_copy(update={"modbus": shifted})
    async with rig([("smoke-a", smoke)]) as r:
        port = r.fields["smoke-a"].port
        bus = Bus(TcpBusConfig(id="b", host="127.0.0.1", port=port))
        device = ModbusDevice(spec("smoke-x", wrong, "b"), bus, FAST_HEALTH)
        try:
            for _ in range(FAST_HEALTH.lost_after):
                assert await device.poll_once() is False
            assert "exception 2 (illegal data address)" in device.breaker.reason
            assert bus.errors["exception"] == FAST_HEALTH.lost_after
            assert not device.online
        finally:
            bus.close()


@contextlib.asynccontextmanager
async def garbage_server() -> AsyncIterator[int]:
    """A TCP 'device' that answers every request with bytes that are not Modbus."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while await reader.read(256):
                writer.write(b"\xde\xad\xbe\xef garbage \x00\x01")
                await writer.drain()
        writer.close()
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def test_garbage_frames_are_counted_failures_not_a_crash(profiles: ProfileSet) -> None:
    """Garbage on the line is a failed poll (timeout or bad response), counted; after
    lost_after polls the device is lost; nothing raises out of the gateway."""
    updates: list[DriverUpdate] = []
    async with garbage_server() as port:
        bus = Bus(TcpBusConfig(id="g", host="127.0.0.1", port=port), timeout_s=0.5)
        device = ModbusDevice(spec("panic-g", profiles["panic"], "g"), bus, FAST_HEALTH)
        device.attach(lambda d, u: updates.append(u))
        device.online = True  # as if it had answered before
        try:
            for _ in range(FAST_HEALTH.lost_after):
                assert await device.poll_once() is False
        finally:
            bus.close()
    assert sum(bus.errors.values()) >= FAST_HEALTH.lost_after
    assert [u for u in updates if isinstance(u, Availability)][-1].online is False


async def test_poll_soon_wakes_a_sleeping_device_and_stop_ends_its_loop(
        profiles: ProfileSet) -> None:
    """A device polled every 10 s sleeps between polls; poll_soon (as after a command)
    polls it at once, and stop ends its loop at once instead of after the 10 s slot."""
    async with FieldDevice(make_model(profiles["panic"]), device_id="panic-s") as field:
        bus = Bus(TcpBusConfig(id="s", host="127.0.0.1", port=field.port))
        slow = spec("panic-s", profiles["panic"], "s")
        device = ModbusDevice(DeviceSpec(slow.ref, slow.profile, "s", 1, poll_ms=10_000),
                              bus, FAST_HEALTH)
        runner = asyncio.create_task(device.run(), name="poll:panic-s")
        try:
            async with asyncio.timeout(5):
                device.poll_soon()  # before its first (jittered, up to 10 s) sleep
                while device.polls < 1:  # noqa: ASYNC110 - the device has no poll event
                    await asyncio.sleep(0.01)
                await asyncio.sleep(0.2)
                assert device.polls == 1 and device.online  # asleep now, for 10 s or more
                device.poll_soon()
                while device.polls < 2:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
                device.stop()
                await runner
        finally:
            runner.cancel()
            bus.close()
    assert device.polls == 2
