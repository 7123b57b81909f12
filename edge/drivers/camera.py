"""The IP camera driver: its stream read with OpenCV, its picture diagnosed.

The reading happens in a thread per camera (edge/video/stream.py); the driver lives on the
agent's event loop and turns what the thread reports into the camera's metrics:

* ``diagnosis`` (starting, ok, black, dark, frozen, occluded, blurred, colour_cast, stale,
  no_signal), ``diagnosis_info`` (why, as a code and parameters: protocol/camera.py, which
  the server renders in Chinese or English) and ``diagnosis_detail`` (the same in English),
  reported the moment the debounced diagnosis changes;
* ``fps``, ``last_frame_ts``, ``width``, ``height`` in every heartbeat (the agent's periodic
  full report), so the server sees the picture is alive even when nothing changes;
* ``stream_url`` (credentials removed) for the server's live-view relay (docs/video.md);
* availability: a camera that does not answer at all (``no_signal``) is declared lost
  (DeviceLost with the reason and its info, ``{"code": "no_signal", "cause": <the stream's
  loss code>, …}``, which the server words in either language; the diagnosis and its info
  are reported just before, for servers that predate the DeviceLost info) and born again
  when pictures return.

Start-up: until its first picture a camera that answers is ``starting``, not stale, for the
profile's ``startup_grace_s`` (real seconds): a busy machine opening many streams at once
takes seconds to deliver first frames, and that is no camera fault.

Durations of the profile are site seconds scaled by ``--speed``, but never shorter than
what real-time video allows (:func:`video_window`): frozen needs 2 s and two samples, stale
3 s, a debounce 0.5 s and one sample period, so a one-frame glitch or a scheduling hiccup is
never an alarm at any speed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from types import TracebackType

from edge.drivers.base import Driver, Metrics, MetricsChanged
from edge.video.diagnostics import Diagnoser, DiagnosticThresholds, Verdict
from edge.video.stream import Lost, Opened, Sample, StreamReader, StreamReport, redact
from protocol.codec import now_ms
from protocol.profiles import DeviceProfile
from protocol.reasons import Info, InfoValue, encode_info, lost_info
from protocol.site import DeviceRef
from protocol.timing import to_real

log = logging.getLogger(__name__)

# Video runs in real time whatever --speed says: below these real durations a busy
# machine's scheduling hiccup would look like a frozen or stale camera.  Like
# protocol.timing.scaled_interval, a floor never lengthens a window beyond its site value.
FROZEN_MIN_REAL_S = 2.0
STALE_MIN_REAL_S = 3.0
DEBOUNCE_MIN_REAL_S = 0.5
NO_PICTURE = frozenset({"starting", "stale", "no_signal"})
REPORTED_ON_CHANGE = ("diagnosis", "diagnosis_detail", "diagnosis_info", "online", "width",
                      "height")


def no_signal_info(loss: Info) -> dict[str, InfoValue]:
    """A lost camera's DeviceLost info: ``no_signal`` caused by the stream's loss code
    (``{"code": "no_signal", "cause": "connection_refused"}``: "无信号: 连接被拒绝" /
    "no signal: connection refused"), with that loss's parameters."""
    params = {k: v for k, v in loss.items() if k not in ("code", "cause")}
    return lost_info("no_signal", cause=str(loss.get("code") or "cannot_open"), **params)


def video_window(site_s: float, speed: float, floor_s: float, samples_s: float) -> float:
    """A diagnostics window in real seconds at ``speed``."""
    return max(to_real(site_s, speed), min(site_s, floor_s), samples_s)


class CameraDriver(Driver):
    """``async with CameraDriver(ref, profile, url, speed=...)`` reads the camera until exit.

    Raises ValueError at construction for bad thresholds in the profile."""

    def __init__(self, device: DeviceRef, profile: DeviceProfile, url: str,
                 speed: float = 1.0) -> None:
        super().__init__(device, profile)
        self.url = url
        self.th = DiagnosticThresholds.from_profile(profile.thresholds)
        period = 1.0 / self.th.sample_fps
        self.diagnoser = Diagnoser(
            self.th,
            frozen_after_s=video_window(self.th.frozen_after_s, speed, FROZEN_MIN_REAL_S,
                                        2 * period),
            stale_after_s=video_window(self.th.stale_after_s, speed, STALE_MIN_REAL_S,
                                       2 * period),
            debounce_s=video_window(self.th.debounce_s, speed, DEBOUNCE_MIN_REAL_S, period))
        self.tick_s = period
        self.values: Metrics = {
            "online": False, "fps": 0.0, "last_frame_ts": 0, "width": 0, "height": 0,
            "diagnosis": self.diagnoser.reported,
            "diagnosis_detail": self.diagnoser.reported_detail,
            "diagnosis_info": encode_info(self.diagnoser.reported_info),
            "stream_url": redact(url),
        }
        # Set once the camera has reported a picture (any diagnosis of a picture): the
        # simulated centre waits for every camera's before it calls itself ready.
        self.first_picture = asyncio.Event()
        self._reader: StreamReader | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> CameraDriver:
        self._loop = asyncio.get_running_loop()
        self._reader = StreamReader(self.url, self.th, self._from_thread, name=self.id)
        self._reader.start()
        self._watchdog = asyncio.create_task(self._watch(), name=f"{self.id}:watchdog")
        log.debug("camera %s: reading %s", self.id, redact(self.url))
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._reader is not None:
            self._reader.stop()
            # Wait (bounded: its current frame or read timeout) for the thread to release
            # the capture: a daemon thread still inside OpenCV/FFmpeg when the interpreter
            # exits aborts the process ("terminate called without an active exception").
            await asyncio.to_thread(self._reader.join, self.th.read_timeout_s + 1.0)
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
        self._loop = None

    def _from_thread(self, report: StreamReport) -> None:
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed while the thread read
            loop.call_soon_threadsafe(self._on_report, report)

    async def _watch(self) -> None:
        """The camera's watchdog: silence is a diagnosis too (stale, no signal)."""
        while True:
            await asyncio.sleep(self.tick_s)
            self._apply(self.diagnoser.tick(asyncio.get_running_loop().time()))

    # ------------------------------------------------------------------ reports

    def _on_report(self, report: StreamReport) -> None:
        now = asyncio.get_running_loop().time()  # == time.monotonic() on the default loop
        if isinstance(report, Sample):
            f = report.findings
            self.values.update(fps=round(report.fps, 1), last_frame_ts=now_ms())
            verdict = self.diagnoser.frame(f, min(report.at, now))  # when it arrived
            changed: Metrics = {}
            if (f.width, f.height) != (self.values["width"], self.values["height"]):
                changed.update(width=f.width, height=f.height)
            if not self.values["online"] and verdict.diagnosis not in ("stale", "no_signal"):
                changed["online"] = True  # pictures (again); the diagnosis says which
            self.values.update(changed)
            if changed and self.online and not verdict.changed:
                self.emit(MetricsChanged(changed))
            self._apply(verdict)
        elif isinstance(report, Lost):
            if self.diagnoser.connected and self.diagnoser.loss_reason != report.reason:
                log.info("camera %s: %s", self.id, report.reason)
            self.values["fps"] = 0.0
            self._apply(self.diagnoser.lost(report.loss, now, connected=report.connected))
        elif isinstance(report, Opened):
            log.debug("camera %s: stream open (%dx%d)", self.id, report.width, report.height)

    def _apply(self, verdict: Verdict) -> None:
        if not verdict.changed:
            return
        online = verdict.diagnosis != "no_signal"
        self.values.update(diagnosis=verdict.diagnosis, diagnosis_detail=verdict.detail[:200],
                           diagnosis_info=encode_info(verdict.info),
                           online=verdict.diagnosis not in NO_PICTURE)
        log.info("camera %s: %s (%s)", self.id, verdict.diagnosis, verdict.detail)
        if verdict.diagnosis not in NO_PICTURE:
            self.first_picture.set()
        if self.online:
            # Also just before a DeviceLost: the server keeps the last metrics of a lost
            # device, so it can word the loss in either language.
            self.emit(MetricsChanged({k: self.values[k] for k in REPORTED_ON_CHANGE}))
        if online != self.online:
            # Availability: the agent sends DeviceLost (its info: no signal, caused by the
            # stream's loss code with its parameters; its reason: the same in English, as
            # before there was an info), or a new birth carrying every metric.
            if online:
                self.set_available(True)
            else:
                self.set_lost(no_signal_info(verdict.info))

    def metrics(self) -> Metrics:
        return dict(self.values)
