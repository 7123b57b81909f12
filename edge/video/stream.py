"""Reading one camera's stream with OpenCV, in a thread of its own.

OpenCV's ``VideoCapture`` blocks (opening an RTSP session, waiting for a frame), so each
camera gets one daemon thread: a slow or dead camera blocks only itself, never the agent's
event loop nor the other cameras.  The thread reads every frame the camera sends (a stream
must be drained, or it backs up and the frames we see get old), analyses a sample of them
(``sample_fps``) and hands :data:`StreamReport` items to a callback — the camera driver's,
which moves them onto the event loop.

Any URL OpenCV's FFmpeg backend opens works: ``rtsp://``, ``http://`` (MJPEG), a file, or a
device index (``0``).  FFmpeg options (e.g. ``rtsp_transport;tcp``) go in the environment
variable ``OPENCV_FFMPEG_CAPTURE_OPTIONS`` as usual.  Use a camera's *substream* (640×360 or
so, a few fps): diagnostics do not need more, and decoding a 25 fps 1080p main stream costs
far more than the analysis.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import cv2

from edge.video.diagnostics import DiagnosticThresholds, FrameFindings, analyse
from protocol.reasons import Info, detail_text

log = logging.getLogger(__name__)

# FFmpeg and OpenCV print every refused connection and read timeout to stderr; the driver
# reports them as device states instead (an operator can set these variables to debug).
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
if "OPENCV_LOG_LEVEL" not in os.environ:
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


@dataclass(frozen=True, slots=True)
class Opened:
    """The stream is open (``width``×``height`` as the backend reports it, 0 if unknown)."""

    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Sample:
    """A frame was analysed.  ``fps``: frames received per second over the last seconds."""

    findings: FrameFindings
    at: float  # time.monotonic() when the frame arrived
    fps: float


@dataclass(frozen=True, slots=True)
class Lost:
    """No frame: ``connected`` says whether the camera still answers on the network (a
    stalled stream) or not (signal loss: refused, unreachable, timed out).  ``loss``: why,
    as a loss code and its parameters (protocol/camera.py)."""

    loss: Info
    connected: bool
    at: float

    @property
    def reason(self) -> str:
        return detail_text(self.loss, "en")


StreamReport = Opened | Sample | Lost


def redact(url: str) -> str:
    """The URL without its user:password (safe to log and to publish)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def probe(url: str, timeout_s: float = 1.0) -> tuple[bool, Info]:
    """Does the camera's host accept a TCP connection?  (connected, the loss if not)"""
    parts = urlsplit(url)
    if not parts.hostname:
        return False, {"code": "not_network"}
    default = {"rtsp": 554, "http": 80, "https": 443}.get(parts.scheme, 0)
    try:
        port = parts.port or default
    except ValueError:
        return False, {"code": "bad_port"}
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout_s):
            return True, {}
    except ConnectionRefusedError:
        return False, {"code": "connection_refused"}
    except TimeoutError:
        return False, {"code": "connection_timeout"}
    except OSError as err:
        return False, {"code": "network_error", "error": (err.strerror or str(err))[:80]}


class StreamReader:
    """One camera's reading thread.  ``start()`` once; ``stop()`` returns at once (the
    thread ends at its next frame or timeout); ``join()`` waits for that, which the driver
    does before exit so that no thread is left inside OpenCV when the interpreter ends."""

    def __init__(self, url: str, th: DiagnosticThresholds,
                 report: Callable[[StreamReport], None], name: str = "camera") -> None:
        self.url = url
        self.th = th
        self.report = report
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"stream:{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _open(self) -> cv2.VideoCapture:
        source: int | str = int(self.url) if self.url.isdigit() else self.url
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(self.th.connect_timeout_s * 1000),
                  cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(self.th.read_timeout_s * 1000),
                  cv2.CAP_PROP_N_THREADS, 1]  # one decoding thread per camera is plenty
        if isinstance(source, int):
            return cv2.VideoCapture(source, cv2.CAP_ANY)
        return cv2.VideoCapture(source, cv2.CAP_FFMPEG, params)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._session()
            except Exception as err:  # a bug or an OpenCV surprise: report, retry later
                log.exception("camera stream %s: reader failed", redact(self.url))
                error = str(err).replace(self.url, redact(self.url))  # never a password
                self._lost({"code": "reader_error", "error": error[:80]})
            self._stop.wait(self.th.reconnect_s)

    def _lost(self, loss: Info) -> None:
        connected, why = probe(self.url, min(2.0, self.th.connect_timeout_s))
        self.report(Lost(loss if connected else (why or loss), connected, time.monotonic()))

    def _session(self) -> None:
        capture = self._open()
        try:
            if not capture.isOpened():
                self._lost({"code": "cannot_open"})
                return
            self.report(Opened(int(capture.get(cv2.CAP_PROP_FRAME_WIDTH) or 0),
                               int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)))
            period = 1.0 / self.th.sample_fps
            next_sample = 0.0
            arrivals: list[float] = []
            while not self._stop.is_set():
                if not capture.grab():
                    self._lost({"code": "stream_ended"})
                    return
                now = time.monotonic()
                arrivals.append(now)
                if now < next_sample:
                    continue
                next_sample = max(next_sample + period, now)
                ok, frame = capture.retrieve()
                if not ok or frame is None or frame.size == 0:
                    self._lost({"code": "corrupt_frame"})
                    return
                window = [t for t in arrivals if now - t <= 2.0]
                arrivals = window
                fps = (len(window) - 1) / (window[-1] - window[0]) if len(window) > 1 \
                    and window[-1] > window[0] else 0.0
                self.report(Sample(analyse(frame, self.th), now, fps))
        finally:
            capture.release()
