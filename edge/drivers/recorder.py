"""The interrogation recorder driver (审讯主机): its HTTP status API, polled.

``GET {url}/api/status`` answers ``{"recording", "segment", "bytes_written",
"disk_free_mb"}`` (simulators/devices/recorders.py serves the same API).  The driver polls
it every ``poll_s`` of the profile (site seconds, scaled by --speed), and reports:

* ``recording_started`` / ``recording_stopped`` events when the state flips (kept in the
  outbox until the server stores them);
* every other change by exception — ``bytes_written`` on every poll while it grows, so the
  server sees the segment really growing (server/rules/recording.py judges "recording but
  not progressing" over the profile's ``progress_window_s``);
* availability: ``lost_after`` failed polls in a row (refused, timeout, an answer that is
  not the API) declare the recorder lost with the reason and its info (``unreachable``
  host/port, ``timeout`` ms/request, ``http_error`` status, ``bad_answer``,
  ``network_error``: protocol/reasons.py, worded by the server in Chinese or English); the
  next good answer brings it back.  Bad answers are counted and logged once per kind, never
  fatal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from types import TracebackType
from typing import Annotated
from urllib.parse import urlsplit

import httpx
import msgspec

from edge.drivers.base import CommandReply, Driver, DriverEvent, Metrics, MetricsChanged, Params
from protocol.profiles import DeviceProfile
from protocol.reasons import InfoValue, lost_info
from protocol.site import DeviceRef
from protocol.timing import to_real

log = logging.getLogger(__name__)

MIN_POLL_S = 0.2  # real seconds: at high --speed, poll no faster than this
STATUS_PATH = "/api/status"

# httpx logs every request at INFO: one line per recorder per second.  State changes are
# logged here instead (unless someone configured httpx's logger on purpose).
if logging.getLogger("httpx").level == logging.NOTSET:
    logging.getLogger("httpx").setLevel(logging.WARNING)


class RecorderStatus(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """The status API's answer (extra fields a recorder adds are ignored)."""

    recording: bool
    bytes_written: Annotated[int, msgspec.Meta(ge=0)]
    segment: Annotated[str, msgspec.Meta(max_length=512)] = ""
    disk_free_mb: Annotated[int, msgspec.Meta(ge=0)] = 0


_decoder = msgspec.json.Decoder(RecorderStatus)


class RecorderDriver(Driver):
    """``async with RecorderDriver(ref, profile, url, speed=...)`` polls until exit."""

    def __init__(self, device: DeviceRef, profile: DeviceProfile, url: str,
                 speed: float = 1.0) -> None:
        super().__init__(device, profile)
        self.url = url.rstrip("/")
        th = profile.thresholds
        self.poll_s = max(to_real(th.get("poll_s", 1.0), speed), MIN_POLL_S)
        self.timeout_s = th.get("timeout_s", 3.0)
        self.lost_after = max(1, int(th.get("lost_after", 3)))
        self.values: Metrics = {"recording": False, "segment": "", "bytes_written": 0,
                                "disk_free_mb": 0}
        self.failures = 0
        self.bad_answers = 0
        self._last_problem = ""
        self._client: httpx.AsyncClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._first = True

    async def __aenter__(self) -> RecorderDriver:
        self._client = httpx.AsyncClient(timeout=self.timeout_s)
        self._task = asyncio.create_task(self._poll_loop(), name=f"{self.id}:poll")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._client is not None:
            await self._client.aclose()

    def metrics(self) -> Metrics:
        return dict(self.values)

    async def _poll_loop(self) -> None:
        while True:
            await self.poll()
            await asyncio.sleep(self.poll_s)

    async def poll(self) -> None:
        """One status request and what follows from it."""
        assert self._client is not None, "use the driver as an async context manager"
        try:
            response = await self._client.get(f"{self.url}{STATUS_PATH}")
        except httpx.HTTPError as err:
            self._failed(_describe(err), self._loss_info(err))
            return
        if response.status_code != 200:
            self.bad_answers += 1
            self._failed(f"bad answer from the status API: status API answered HTTP "
                         f"{response.status_code}",
                         lost_info("http_error", status=response.status_code))
            return
        try:
            status = _decoder.decode(response.content)
        except (ValueError, msgspec.ValidationError, msgspec.DecodeError) as err:
            self.bad_answers += 1
            self._failed(f"bad answer from the status API: {str(err)[:120]}",
                         lost_info("bad_answer", error=str(err)[:120]))
            return
        self._answered(status)

    def _loss_info(self, err: httpx.HTTPError) -> dict[str, InfoValue]:
        """Why a request failed, as DeviceLost's info (protocol/reasons.py)."""
        if isinstance(err, httpx.ConnectError):
            parts = urlsplit(self.url)
            default = 443 if parts.scheme == "https" else 80
            try:
                port = parts.port or default
            except ValueError:
                port = default
            return lost_info("unreachable", host=parts.hostname or "?", port=port)
        if isinstance(err, httpx.TimeoutException):
            return lost_info("timeout", ms=round(self.timeout_s * 1000),
                             request=f"GET {STATUS_PATH}")
        return lost_info("network_error", error=_describe(err))

    def _failed(self, problem: str, info: dict[str, InfoValue]) -> None:
        self.failures += 1
        if problem != self._last_problem:
            log.warning("recorder %s: %s", self.id, problem)
            self._last_problem = problem
        if self.failures >= self.lost_after:
            self.set_lost(info, problem[:200])

    def _answered(self, status: RecorderStatus) -> None:
        if self.failures and self._last_problem:
            log.info("recorder %s answers again", self.id)
        self.failures, self._last_problem = 0, ""
        new: Metrics = {"recording": status.recording, "segment": status.segment,
                        "bytes_written": status.bytes_written,
                        "disk_free_mb": status.disk_free_mb}
        changed = {k: v for k, v in new.items() if self.values.get(k) != v}
        was_recording = self.values["recording"]
        self.values.update(new)
        if not self.online:
            self.set_available(True)  # a new birth carries every metric
            return
        if self._first:
            self._first = False
            if changed:
                self.emit(MetricsChanged(changed))
            return
        if status.recording != was_recording:
            kind = "recording_started" if status.recording else "recording_stopped"
            log.info("recorder %s: %s (%s)", self.id, kind, status.segment)
            self.emit(DriverEvent(kind, {"segment": status.segment}, changed))
        elif changed:
            self.emit(MetricsChanged(changed))

    async def command(self, name: str, params: Params) -> CommandReply:
        if name not in ("start_recording", "stop_recording"):
            return await super().command(name, params)
        assert self._client is not None
        on = "1" if name == "start_recording" else "0"
        try:
            response = await self._client.post(f"{self.url}/api/record?on={on}")
        except httpx.HTTPError as err:
            return "failed", _describe(err)
        if response.status_code != 200:
            return "failed", f"recorder answered HTTP {response.status_code}"
        await self.poll()  # report the new state now, not at the next poll
        return "done", ""


def _describe(err: httpx.HTTPError) -> str:
    if isinstance(err, httpx.ConnectError):
        return f"cannot connect ({err})"[:200]
    if isinstance(err, httpx.TimeoutException):
        return "status API timed out"
    return f"{type(err).__name__}: {err}"[:200]
