"""Simulated IP cameras that serve real MJPEG over HTTP.

Each camera listens on its own port (like a real camera on its own address) and serves
``/video.mjpg`` (``multipart/x-mixed-replace``, the MJPEG every IP camera offers) and
``/snapshot.jpg``.  The frames are synthetic (simulators/devices/scene.py: the room, its
name, the time and one walking figure per person the room's reader sees), so the edge's
OpenCV driver runs exactly the code it runs against a real camera.

Faults (the scenario verb ``fault: ID, kind: …``), each undone by ``restore``:

* ``black``, ``occluded`` (and, for tests, ``dark``, ``blurred``, ``colour_cast``): the picture;
* ``frozen``: the same JPEG over and over, at the normal rate — the stream looks healthy
  (fps fine), only the picture says otherwise (Frigate #1536);
* ``stale``: the connection stays open, no more frames;
* ``offline``: the camera stops answering: connections are cut, new ones refused.

``credentials=(user, password)`` makes it ask for HTTP Basic auth, as real cameras do:
``401 Unauthorized`` with ``WWW-Authenticate`` to a request without them or with wrong ones.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

from edge.drivers.base import CommandReply, Metrics, Params
from edge.drivers.simulated import SimulatedCamera
from protocol.profiles import DeviceProfile
from protocol.site import DeviceRef
from simulators.devices.httpsim import LocalHttpServer, Request
from simulators.devices.scene import PICTURE_FAULTS, SceneRenderer, SceneStyle, encode_jpeg

log = logging.getLogger(__name__)

BOUNDARY = b"cwframe"
_pool: ThreadPoolExecutor | None = None


def _render_pool() -> ThreadPoolExecutor:
    """Threads of their own for rendering: the loop's default executor also carries the
    agents' outbox writes, and a slow disk there must not stall every camera at once."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="camera-render")
    return _pool
STREAM_FAULTS = ("frozen", "stale", "offline")
CAMERA_FAULTS = frozenset({*PICTURE_FAULTS, *STREAM_FAULTS, "restore"})


class CameraServer(LocalHttpServer):
    """One camera's HTTP endpoint; ``async with`` serves (and renders) until exit."""

    def __init__(self, title: str, *, fps: float = 5.0, width: int = 640, height: int = 360,
                 seed: int = 0, figures: Callable[[], int] | None = None,
                 host: str = "127.0.0.1", quality: int = 75,
                 credentials: tuple[str, str] | None = None) -> None:
        super().__init__(host)
        self.authorization = None if credentials is None else \
            "Basic " + base64.b64encode(":".join(credentials).encode()).decode()
        self.refused_logins = 0
        self.renderer = SceneRenderer(title, width, height, SceneStyle(seed=seed))
        self.fps = fps
        self.quality = quality
        self.figures = figures or (lambda: 1)
        self.fault = "restore"  # "restore" == healthy
        self._watchers = 0
        self._frame = asyncio.Condition()
        self._jpeg = b""
        self._seq = 0
        self._producer: asyncio.Task[None] | None = None
        self._t0 = time.monotonic()
        self.frames_sent = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/video.mjpg"

    async def __aenter__(self) -> CameraServer:
        await super().__aenter__()
        self._producer = asyncio.create_task(self._produce(), name=f"camera:{self.port}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._producer is not None:
            self._producer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._producer
        await super().__aexit__(*exc)

    async def inject(self, fault: str) -> None:
        """Apply a fault (CAMERA_FAULTS); ``restore`` undoes any."""
        if fault not in CAMERA_FAULTS:
            raise ValueError(f"unknown camera fault {fault!r}; known: {sorted(CAMERA_FAULTS)}")
        self.fault = fault
        log.info("simulated camera on port %d: %s", self.port, fault)
        await self.set_answering(fault != "offline")

    # ------------------------------------------------------------------ frames

    def _render(self, t: float) -> bytes:
        if self.fault in PICTURE_FAULTS:
            frame = self.renderer.with_fault(self.fault, t, self.figures())
        else:
            frame = self.renderer.render(t, self.figures())
        return encode_jpeg(frame, self.quality)

    async def _produce(self) -> None:
        """Frames at ``fps`` while anyone watches (rendered in worker threads: OpenCV
        releases the GIL, the event loop stays free)."""
        period = 1.0 / self.fps
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            next_at += period
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            if loop.time() - next_at > 1.0:
                next_at = loop.time()  # fell behind (a busy machine): do not burst
            if not self._watchers or self.fault in ("stale", "offline"):
                continue
            if self.fault != "frozen" or not self._jpeg:
                self._jpeg = await loop.run_in_executor(_render_pool(), self._render,
                                                        loop.time() - self._t0)
            async with self._frame:
                self._seq += 1
                self._frame.notify_all()

    async def _next_frame(self) -> bytes:
        self._watchers += 1
        try:
            async with self._frame:
                seq = self._seq
                await self._frame.wait_for(lambda: self._seq != seq)
                return self._jpeg
        finally:
            self._watchers -= 1

    # ------------------------------------------------------------------ HTTP

    async def handle(self, request: Request, writer: asyncio.StreamWriter) -> None:
        if self.authorization is not None \
                and request.headers.get("authorization") != self.authorization:
            if "authorization" in request.headers:
                self.refused_logins += 1
            writer.write(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n"
                         b'WWW-Authenticate: Basic realm="camera"\r\nConnection: close\r\n\r\n')
            await writer.drain()
            return
        if request.path == "/video.mjpg":
            writer.write(b"HTTP/1.1 200 OK\r\nCache-Control: no-cache\r\nConnection: close\r\n"
                         b"Content-Type: multipart/x-mixed-replace; boundary=" + BOUNDARY
                         + b"\r\n\r\n")
            await writer.drain()
            while True:
                jpeg = await self._next_frame()
                writer.write(b"--%s\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
                             % (BOUNDARY, len(jpeg)) + jpeg + b"\r\n")
                await writer.drain()
                self.frames_sent += 1
        elif request.path == "/snapshot.jpg":
            jpeg = await asyncio.wait_for(self._next_frame(), 10)
            await self.respond(writer, "200 OK", jpeg, "image/jpeg")
        else:
            await self.respond(writer, "404 Not Found", b"")


class CameraDevice(SimulatedCamera):
    """The scenario's handle on a simulated camera (what ``SimulatedCentre.drivers`` holds):
    faults go to its server; the edge reads it through the real CameraDriver."""

    defaults: ClassVar[Metrics] = SimulatedCamera.defaults

    def __init__(self, device: DeviceRef, profile: DeviceProfile, server: CameraServer) -> None:
        super().__init__(device, profile)
        self.server = server

    async def inject_fault(self, kind: str) -> None:
        await self.server.inject(kind)

    def set(self, **metrics: Any) -> None:
        raise ValueError(f"{self.id}: a camera's picture is not set; use fault: {self.id}, "
                         f"kind: {'|'.join(sorted(CAMERA_FAULTS))}")

    async def command(self, name: str, params: Params) -> CommandReply:
        return "refused", "commands go to the camera's driver"
