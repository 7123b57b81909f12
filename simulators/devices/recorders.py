"""Simulated interrogation recorders (审讯主机) with an HTTP status API.

The API (the subset of what such recorders expose that CustodyWatch reads)::

    GET  /api/status           -> {"recording": true, "segment": "….mp4",
                                   "bytes_written": 123456, "disk_free_mb": 512000}
    POST /api/record?on=1|0    -> start / stop recording (the driver's commands)

While recording, ``bytes_written`` grows with real time (~4 Mbit/s).  Faults (the scenario
verb ``fault: ID, kind: …``):

* ``stale`` or ``frozen``: the recorder still says "recording" but its segment stops
  growing — the failure the progress check exists for (a full disk, a hung encoder);
* ``offline``: it stops answering (connections cut, new ones refused);
* ``garbage`` (tests): it answers with something that is not its API;
* ``restore``: healthy again, the segment growing from where it stopped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import ClassVar

from edge.drivers.base import Metrics
from edge.drivers.simulated import SimulatedRecorder
from protocol.profiles import DeviceProfile
from protocol.site import DeviceRef
from simulators.devices.httpsim import LocalHttpServer, Request

log = logging.getLogger(__name__)

RECORDER_FAULTS = frozenset({"stale", "frozen", "offline", "garbage", "restore"})


class RecorderDevice(SimulatedRecorder):
    """The recorder's state (the scenario's handle: ``set(recording=True)`` as for the
    in-process simulated recorder) and its HTTP server (``server``)."""

    defaults: ClassVar[Metrics] = SimulatedRecorder.defaults

    def __init__(self, device: DeviceRef, profile: DeviceProfile,
                 host: str = "127.0.0.1") -> None:
        super().__init__(device, profile)
        self.stalled_at: int | None = None  # bytes_written frozen here while stalled
        self.garbage = False
        self.server = RecorderServer(self, host)

    def _written(self) -> int:
        if self.stalled_at is not None:
            return self.stalled_at
        return super()._written()

    def status(self) -> dict[str, object]:
        return {"recording": bool(self.values["recording"]), "segment": self.values["segment"],
                "bytes_written": self._written(), "disk_free_mb": self.values["disk_free_mb"]}

    async def inject_fault(self, kind: str) -> None:
        if kind not in RECORDER_FAULTS:
            raise ValueError(f"{self.id}: unknown recorder fault {kind!r}; known: "
                             f"{', '.join(sorted(RECORDER_FAULTS))}")
        log.info("simulated recorder %s: %s", self.id, kind)
        if kind in ("stale", "frozen"):
            if self.stalled_at is None:
                self.stalled_at = self._written()
        elif kind == "garbage":
            self.garbage = True
        elif kind == "offline":
            await self.server.set_answering(False)
        else:  # restore: grow again from where the segment stopped
            if self.stalled_at is not None:
                self.values["bytes_written"] = self.stalled_at
                if self._since is not None:
                    self._since = time.monotonic()
                self.stalled_at = None
            self.garbage = False
            await self.server.set_answering(True)

    def set_available(self, online: bool, reason: str = "") -> None:
        """Power off / on (the older fault path): same as the offline / restore faults."""
        task = asyncio.get_running_loop().create_task(
            self.inject_fault("restore" if online else "offline"), name=f"{self.id}:power")
        task.add_done_callback(lambda t: t.cancelled() or t.exception())


class RecorderServer(LocalHttpServer):
    def __init__(self, device: RecorderDevice, host: str = "127.0.0.1") -> None:
        super().__init__(host)
        self.device = device

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def handle(self, request: Request, writer: asyncio.StreamWriter) -> None:
        d = self.device
        if d.garbage:
            await self.respond(writer, "200 OK", b"<html>\x00\xff not a status</html>",
                               "text/html")
        elif request.method == "GET" and request.path == "/api/status":
            await self.respond(writer, "200 OK", json.dumps(d.status()).encode())
        elif request.method == "POST" and request.path == "/api/record":
            on = request.query in ("on=1", "on=true")
            d.set(recording=on)
            await self.respond(writer, "200 OK", json.dumps({"recording": on}).encode())
        else:
            await self.respond(writer, "404 Not Found", b'{"error": "not found"}')
