"""The simulated centre's cameras and recorders as network devices.

For every camera of the site a :class:`CameraServer` serves MJPEG on a local port and the
node's agent reads it with the real :class:`CameraDriver` (OpenCV); for every recorder a
:class:`RecorderDevice` serves its HTTP status API and the agent polls it with the real
:class:`RecorderDriver`.  The scenario keeps its handles (``SimulatedCentre.drivers``): a
recorder handle takes ``set(recording=True)``, both take ``inject_fault(kind)``.

simulators/centre.py calls :meth:`NetworkVideo.handle` while it builds a node's drivers,
:meth:`NetworkVideo.agent_driver` for what the agent gets, and enters the object (servers
first, then drivers) before the agents.

CPU (2 cores, 23 cameras): cameras render 640×360 at ``CAMERA_FPS`` and the drivers analyse
2 frames/s each; ``custodywatch bench camera`` measures the edge side.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Protocol, runtime_checkable

from edge.drivers.base import Driver
from edge.drivers.camera import CameraDriver
from edge.drivers.recorder import RecorderDriver
from edge.drivers.simulated import SimulatedDriver, SimulatedReader
from protocol.profiles import DeviceProfile
from protocol.site import DeviceRef
from simulators.devices.cameras import CameraDevice, CameraServer
from simulators.devices.recorders import RecorderDevice

log = logging.getLogger(__name__)

CAMERA_FPS = 4.0  # a camera substream's rate; the drivers sample 2 of them per second
NETWORK_VIDEO_ENV = "CUSTODYWATCH_SIM_VIDEO"  # "0": in-process simulated cameras/recorders


def network_video_enabled() -> bool:
    return os.environ.get(NETWORK_VIDEO_ENV, "1") != "0"


class NetworkVideo:
    def __init__(self, speed: float, peers: Mapping[str, SimulatedDriver] | None = None,
                 *, camera_fps: float = CAMERA_FPS, enabled: bool = True) -> None:
        """``peers``: the centre's handles by device id; a camera draws one walking figure
        per tag its zone's reader sees.  ``enabled`` False: no network devices (the centre
        falls back to in-process simulated cameras and recorders)."""
        self.enabled = enabled
        self.speed = speed
        self.peers = peers or {}
        self.camera_fps = camera_fps
        self.servers: list[CameraServer | RecorderDevice] = []
        self._agent_drivers: dict[str, CameraDriver | RecorderDriver] = {}
        self._stack: AsyncExitStack | None = None

    def handle(self, ref: DeviceRef, profile: DeviceProfile) -> SimulatedDriver | None:
        """The scenario handle for a camera or recorder (None for any other device)."""
        if not self.enabled:
            return None
        if profile.id == "camera":
            server = CameraServer(f"{ref.zone}  {ref.id}", fps=self.camera_fps,
                                  seed=len(self.servers), figures=self._figures(ref.zone))
            self.servers.append(server)
            self._agent_drivers[ref.id] = CameraDriver(ref, profile, server.url, self.speed)
            return CameraDevice(ref, profile, server)
        if profile.id == "recorder":
            recorder = RecorderDevice(ref, profile)
            self.servers.append(recorder)
            self._agent_drivers[ref.id] = RecorderDriver(ref, profile, recorder.server.url,
                                                         self.speed)
            return recorder
        return None

    def agent_driver(self, handle: SimulatedDriver) -> Driver:
        """What the node's agent runs for this handle: the real network driver of a camera
        or recorder, the handle itself for anything else."""
        return self._agent_drivers.get(handle.id, handle)

    def _figures(self, zone: str) -> Callable[[], int]:
        def count() -> int:
            reader = self.peers.get(f"reader-{zone}")
            return len(reader.tags()) if isinstance(reader, SimulatedReader) else 1
        return count

    async def wait_pictures(self, within_s: float) -> list[str]:
        """Until every camera has reported a picture, at most ``within_s`` (real seconds):
        the ids of the cameras still without one (none: all fine).  23 streams starting on
        a busy 2-core machine take a few seconds."""
        cameras = {i: d for i, d in self._agent_drivers.items() if isinstance(d, CameraDriver)}
        waiting = {asyncio.create_task(d.first_picture.wait(), name=f"{i}:first-picture")
                   for i, d in cameras.items() if not d.first_picture.is_set()}
        if waiting:
            _, pending = await asyncio.wait(waiting, timeout=within_s)
            for task in pending:
                task.cancel()
        return sorted(i for i, d in cameras.items() if not d.first_picture.is_set())

    async def __aenter__(self) -> NetworkVideo:
        async with AsyncExitStack() as stack:
            for server in self.servers:
                await stack.enter_async_context(
                    server.server if isinstance(server, RecorderDevice) else server)
            for driver in self._agent_drivers.values():
                await stack.enter_async_context(driver)
            self._stack = stack.pop_all()
        if self.servers:
            log.info("simulated video: %d cameras, %d recorders on localhost",
                     sum(isinstance(s, CameraServer) for s in self.servers),
                     sum(isinstance(s, RecorderDevice) for s in self.servers))
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._stack is not None:
            await self._stack.aclose()  # drivers stop first, then the servers
            self._stack = None


@runtime_checkable
class FaultInjectable(Protocol):
    """A simulated device that takes the scenario's ``fault`` verb itself (on the device,
    where a real fault happens) rather than as a driver's availability."""

    async def inject_fault(self, kind: str) -> None: ...
