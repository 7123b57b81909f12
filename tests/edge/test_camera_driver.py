"""The camera driver (edge/drivers/camera.py) reading real MJPEG over HTTP from a simulated
camera (simulators/devices/cameras.py) with OpenCV, at --speed 4 so the diagnostics'
windows are short."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable

import pytest

from edge.drivers.base import Availability, Driver, DriverUpdate, MetricsChanged
from edge.drivers.camera import CameraDriver
from protocol.profiles import DeviceProfile, load_profiles
from protocol.site import DeviceRef
from simulators.devices.cameras import CameraServer
from simulators.devices.httpsim import LocalHttpServer, Request
from tests.conftest import free_port

PROFILE = load_profiles()["camera"]
REF = DeviceRef("camera-interrogation-1", "camera", "interrogation-1", "edge-interview")
SPEED = 4.0


class Updates:
    """What the driver emitted, in order, with a way to wait for one."""

    def __init__(self) -> None:
        self.items: list[DriverUpdate] = []
        self._changed = asyncio.Event()

    def sink(self, driver: Driver, update: DriverUpdate) -> None:
        self.items.append(update)
        self._changed.set()

    async def wait_for(self, match: Callable[[DriverUpdate], bool], within: float = 15.0,
                       ) -> DriverUpdate:
        seen = 0
        async with asyncio.timeout(within):
            while True:
                for item in self.items[seen:]:
                    if match(item):
                        return item
                seen = len(self.items)
                self._changed.clear()
                await self._changed.wait()


def diagnosis(name: str) -> Callable[[DriverUpdate], bool]:
    return lambda u: isinstance(u, MetricsChanged) and u.metrics.get("diagnosis") == name


def with_grace(grace_s: float) -> DeviceProfile:
    return PROFILE.model_copy(update={"thresholds": {**PROFILE.thresholds,
                                                     "startup_grace_s": grace_s}})


@contextlib.asynccontextmanager
async def reading(url: str, profile: DeviceProfile = PROFILE,
                  ) -> AsyncIterator[tuple[CameraDriver, Updates]]:
    driver = CameraDriver(REF, profile, url, speed=SPEED)
    updates = Updates()
    driver.attach(updates.sink)
    async with driver:
        yield driver, updates


async def test_healthy_stream_reports_size_fps_and_ok() -> None:
    """A healthy camera: online with its resolution, ok, fps near the camera's rate, a
    recent last frame, and the stream URL for the live view."""
    async with CameraServer("Room", fps=5) as cam, reading(cam.url) as (driver, updates):
        await updates.wait_for(lambda u: isinstance(u, MetricsChanged)
                               and u.metrics.get("online") is True)
        await asyncio.sleep(2.5)
        m = driver.metrics()
        assert (m["width"], m["height"], m["diagnosis"]) == (640, 360, "ok")
        assert 3.0 <= float(m["fps"]) <= 7.0  # type: ignore[arg-type]
        assert m["stream_url"] == cam.url and driver.online


@pytest.mark.parametrize("fault", ["frozen", "black", "occluded", "stale"])
async def test_faults_are_diagnosed_and_restore_clears(fault: str) -> None:
    """Each injected fault becomes the matching diagnosis, reported as a change; restore
    brings ok back."""
    async with CameraServer("Room", fps=5) as cam, reading(cam.url) as (driver, updates):
        await asyncio.sleep(1.5)
        await cam.inject(fault)
        await updates.wait_for(diagnosis(fault))
        assert driver.online
        await cam.inject("restore")
        await updates.wait_for(diagnosis("ok"))


async def test_camera_going_dark_is_lost_with_the_reason_and_comes_back() -> None:
    """The camera stops answering: the device is declared lost ("connection refused");
    when it answers again it is available again with diagnosis ok."""
    async with CameraServer("Room", fps=5) as cam, reading(cam.url) as (driver, updates):
        await asyncio.sleep(1.5)
        await cam.inject("offline")
        lost = await updates.wait_for(lambda u: isinstance(u, Availability) and not u.online)
        assert isinstance(lost, Availability) and "connection refused" in lost.reason
        assert driver.metrics()["diagnosis"] == "no_signal"
        # Just before the loss: the diagnosis and its info, so the server can word it.
        before = updates.items[updates.items.index(lost) - 1]
        assert isinstance(before, MetricsChanged)
        assert before.metrics["diagnosis"] == "no_signal"
        assert json.loads(str(before.metrics["diagnosis_info"])) == {
            "code": "connection_refused"}
        await cam.inject("restore")
        await updates.wait_for(lambda u: isinstance(u, Availability) and u.online)
        assert driver.metrics()["diagnosis"] == "ok"


async def test_unreachable_url_is_a_device_state_not_a_hang() -> None:
    """Nothing listens at the URL: lost with the reason within seconds; the driver stops
    at once when asked (its reading thread is a daemon)."""
    async with reading(f"http://127.0.0.1:{free_port()}/video.mjpg") as (_, updates):
        lost = await updates.wait_for(lambda u: isinstance(u, Availability))
        assert isinstance(lost, Availability) and not lost.online
        assert "refused" in lost.reason


class GarbageCamera(LocalHttpServer):
    """Answers the stream request with a multipart of broken JPEGs."""

    async def handle(self, request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; "
                     b"boundary=x\r\n\r\n")
        for _ in range(200):
            body = b"\xff\xd8\xff\xe0 this is no jpeg \x00" * 20
            writer.write(b"--x\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
                         % len(body) + body + b"\r\n")
            await writer.drain()
            await asyncio.sleep(0.1)


async def test_corrupt_stream_is_a_device_state_not_a_crash() -> None:
    """A stream of corrupt JPEGs: no picture can be had; the driver reports a non-ok state
    with a reason (no signal or stale) and keeps running."""
    async with GarbageCamera() as cam, \
            reading(f"http://127.0.0.1:{cam.port}/video.mjpg", with_grace(3.0)) \
            as (driver, updates):
        bad = await updates.wait_for(
            lambda u: isinstance(u, Availability)
            or (isinstance(u, MetricsChanged) and u.metrics.get("diagnosis") == "stale"))
        assert driver.metrics()["diagnosis"] in ("no_signal", "stale"), bad
        assert driver.metrics()["diagnosis_detail"]


async def test_a_camera_without_a_first_picture_is_starting_until_the_grace_ends() -> None:
    """The camera answers but sends no frame from the start (a slow start, a busy machine):
    "starting" — no fault, not online — for startup_grace_s, then stale; the first frames
    then bring ok, with the measures as diagnosis_info."""
    async with CameraServer("Room", fps=5) as cam:
        await cam.inject("stale")
        started = time.monotonic()
        async with reading(cam.url, with_grace(5.0)) as (driver, updates):
            m = driver.metrics()
            assert (m["diagnosis"], m["online"]) == ("starting", False)
            assert json.loads(str(m["diagnosis_info"])) == {"code": "starting"}
            stale = await updates.wait_for(diagnosis("stale"), within=20)
            assert time.monotonic() - started >= 5.0
            assert not any(isinstance(u, MetricsChanged) and u.metrics.get("diagnosis")
                           not in (None, "stale") for u in updates.items[
                               :updates.items.index(stale)])
            assert driver.online  # it answers: stale, not lost
            await cam.inject("restore")
            ok = await updates.wait_for(diagnosis("ok"))
            assert isinstance(ok, MetricsChanged)
            assert json.loads(str(ok.metrics["diagnosis_info"]))["code"] == "measures"
