"""The recorder driver (edge/drivers/recorder.py) polling a simulated recorder's HTTP status
API (simulators/devices/recorders.py)."""

from __future__ import annotations

import asyncio

from edge.drivers.base import Availability, DriverEvent, MetricsChanged
from edge.drivers.recorder import RecorderDriver
from protocol.profiles import load_profiles
from protocol.site import DeviceRef
from simulators.devices.recorders import RecorderDevice
from tests.conftest import free_port
from tests.edge.test_camera_driver import Updates

PROFILE = load_profiles()["recorder"]
REF = DeviceRef("recorder-interrogation-1", "recorder", "interrogation-1", "edge-interview")
SPEED = 5.0  # poll every 0.2 s


def written(u: object) -> int | None:
    if isinstance(u, MetricsChanged | DriverEvent):
        value = u.metrics.get("bytes_written")
        return value if isinstance(value, int) else None
    return None


async def test_recording_is_an_event_and_bytes_are_reported_as_they_grow() -> None:
    """recording_started with the segment; bytes_written reported by exception while it
    grows; stall: it stops changing though recording stays true; restore: grows again;
    recording_stopped."""
    device = RecorderDevice(REF, PROFILE)
    driver = RecorderDriver(REF, PROFILE, device.server.url, speed=SPEED)
    updates = Updates()
    driver.attach(updates.sink)
    async with device.server, driver:
        await updates.wait_for(lambda u: isinstance(u, MetricsChanged))  # first poll
        device.set(recording=True)
        started = await updates.wait_for(lambda u: isinstance(u, DriverEvent))
        assert isinstance(started, DriverEvent) and started.kind == "recording_started"
        assert str(started.data["segment"]).endswith(".mp4")
        await updates.wait_for(lambda u: (written(u) or 0) > 0)
        await device.inject_fault("stale")
        await asyncio.sleep(0.5)
        flat = driver.metrics()["bytes_written"]
        count = len(updates.items)
        await asyncio.sleep(1.0)
        assert driver.metrics()["bytes_written"] == flat and driver.metrics()["recording"]
        assert not any(written(u) for u in updates.items[count:])
        await device.inject_fault("restore")
        await updates.wait_for(lambda u: (written(u) or 0) > flat)  # type: ignore[operator]
        device.set(recording=False)
        stopped = await updates.wait_for(lambda u: isinstance(u, DriverEvent)
                                         and u.kind == "recording_stopped")
        assert isinstance(stopped, DriverEvent)


async def test_garbage_and_silence_make_the_recorder_lost_with_a_reason() -> None:
    """An answer that is not the API: lost after lost_after polls ("bad answer"), counted;
    restore: available again.  Then the recorder stops answering: lost ("cannot connect")."""
    device = RecorderDevice(REF, PROFILE)
    driver = RecorderDriver(REF, PROFILE, device.server.url, speed=SPEED)
    updates = Updates()
    driver.attach(updates.sink)
    async with device.server, driver:
        await device.inject_fault("garbage")
        lost = await updates.wait_for(lambda u: isinstance(u, Availability) and not u.online)
        assert isinstance(lost, Availability) and "bad answer" in lost.reason
        assert driver.bad_answers >= 3
        await device.inject_fault("restore")
        await updates.wait_for(lambda u: isinstance(u, Availability) and u.online)
        await device.inject_fault("offline")
        lost = await updates.wait_for(lambda u: isinstance(u, Availability) and not u.online
                                      and "connect" in u.reason)


async def test_commands_start_and_stop_the_recording() -> None:
    """start_recording / stop_recording reach the recorder's API and the new state is
    reported at once; an unreachable recorder answers the command with failed."""
    device = RecorderDevice(REF, PROFILE)
    driver = RecorderDriver(REF, PROFILE, device.server.url, speed=SPEED)
    async with device.server, driver:
        assert await driver.command("start_recording", {}) == ("done", "")
        assert driver.metrics()["recording"] is True and device.values["recording"] is True
        assert await driver.command("stop_recording", {}) == ("done", "")
        assert device.values["recording"] is False
    nowhere = RecorderDriver(REF, PROFILE, f"http://127.0.0.1:{free_port()}", speed=SPEED)
    async with nowhere:
        status, detail = await nowhere.command("start_recording", {})
        assert status == "failed" and "connect" in detail
