"""Live camera view over WebRTC (aiortc), relayed by the server.

Design (docs/video.md "Live view"): the **server relays**.  For a camera being watched the
server opens the camera's stream itself (the ``stream_url`` its edge driver reported, which
carries no credentials, with the login from the server's own camera credentials file:
server/camera_credentials.py), once, however many people watch it; each viewer gets a
WebRTC peer connection fed from that one reader.  Why not the edge sending to the browser
directly:

* the browser on the duty desk then needs to reach only the server (one address through the
  firewall between the office LAN and the device network), not every edge box;
* signalling is one authenticated HTTP exchange with the server (offer in, answer out; no
  video and no SDP over MQTT, whose messages are small and stored);
* the edges keep their CPU for diagnostics (≤ 5 % of a core per camera); the cost of
  encoding sits where it is bounded by the limits below.

Limits (:class:`LiveViewLimits`): concurrent streams per camera, per user and in total, and
a maximum duration per stream.  A viewer whose camera gives no picture gets a clear refusal
(:class:`NoPicture`, with a reason code the wall translates: the camera refused the
credentials, wants some, is unreachable…) instead of a black video.  A frozen or stalled
camera is *not* papered over: no frame is repeated, the video stops and the page shows the
camera's diagnosis.  The URL the relay opens may hold a password: it is never logged nor
put in an error (FFmpeg's own messages name it, so they are never passed on).
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import av
import cv2
import numpy as np
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from server.camera_credentials import CameraCredentials, Source
from server.errors import ServerError
from server.stream_probe import LOGIN_REASONS, explain_open_failure

log = logging.getLogger(__name__)

os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # refusals are answers, not stderr
if "OPENCV_LOG_LEVEL" not in os.environ:
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)

ALLOWED_SCHEMES = frozenset({"rtsp", "rtsps", "http", "https"})
VIDEO_TIME_BASE = fractions.Fraction(1, 90_000)


class LiveViewError(ServerError):
    """A live view cannot be given; ``status`` is the HTTP status the API answers."""

    status = 409

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason  # a code for the wall to translate ("" for none)


class LimitReached(LiveViewError):
    status = 429


class NoPicture(LiveViewError):
    status = 503


@dataclass(frozen=True, slots=True)
class LiveViewLimits:
    per_camera: int = 3
    per_user: int = 2
    total: int = 8
    max_session_s: float = 30 * 60.0
    first_frame_s: float = 5.0  # a camera must give a picture within this, or NoPicture
    max_fps: float = 12.0
    max_width: int = 1280  # bigger pictures are downscaled before encoding


def check_stream_url(url: object) -> str:
    """The camera's stream URL as its edge reported it, if the server may open it."""
    if not isinstance(url, str) or not url:
        raise LiveViewError("the camera has not reported a stream URL (is its edge driver "
                            "running?)")
    parts = urlsplit(url)
    if parts.scheme not in ALLOWED_SCHEMES or not parts.hostname:
        # Not echoed: an edge older than credential redaction might have sent a password.
        raise LiveViewError(f"the camera's stream URL ({parts.scheme or 'no'} scheme) is "
                            "not an RTSP/HTTP stream")
    return url


class CameraFeed:
    """One camera's stream read by the server (a thread, as on the edge: OpenCV blocks),
    shared by every viewer of that camera.  Keeps the latest frame and its number."""

    def __init__(self, camera: str, source: Source, limits: LiveViewLimits) -> None:
        self.camera, self.source, self.limits = camera, source, limits
        self.frame: np.ndarray[Any, Any] | None = None
        self.seq = 0
        self.error = ""
        self.reason = ""  # the error's code (server/stream_probe.py)
        self.viewers = 0
        self._loop = asyncio.get_running_loop()
        self._new = asyncio.Event()  # replaced by a fresh one at every frame
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name=f"live:{camera}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _read(self) -> None:
        period = 1.0 / self.limits.max_fps
        while not self._stop.is_set():
            capture = cv2.VideoCapture(self.source.url, cv2.CAP_FFMPEG,
                                       [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 5000,
                                        cv2.CAP_PROP_READ_TIMEOUT_MSEC, 5000])
            reason = ""
            try:
                if not capture.isOpened():
                    failure = explain_open_failure(self.source.url, self.source.with_login)
                    reason = failure.reason
                    self._publish(None, failure.message, reason)
                else:
                    last = 0.0
                    while not self._stop.is_set():
                        ok, frame = capture.read()
                        if not ok or frame is None or frame.size == 0:
                            self._publish(None, "the camera's stream stopped", "stream_stopped")
                            break
                        now = time.monotonic()
                        if now - last >= period:
                            last = now
                            self._publish(self._fit(frame), "", "")
            finally:
                capture.release()
            # A refused login is not retried every 2 s: cameras lock an account after a few.
            self._stop.wait(30.0 if reason in LOGIN_REASONS else 2.0)

    def _fit(self, frame: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        h, w = frame.shape[:2]
        width = min(self.limits.max_width, w) // 2 * 2  # encoders want even sizes
        height = round(h * width / w) // 2 * 2
        if (width, height) == (w, h):
            return frame
        return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)

    def _publish(self, frame: np.ndarray[Any, Any] | None, error: str, reason: str) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed while we read
            self._loop.call_soon_threadsafe(self._arrived, frame, error, reason)

    def _arrived(self, frame: np.ndarray[Any, Any] | None, error: str, reason: str) -> None:
        self.error, self.reason = error, reason
        if frame is not None:
            self.frame, self.seq = frame, self.seq + 1
        arrived, self._new = self._new, asyncio.Event()
        arrived.set()

    async def next_frame(self, after: int) -> tuple[int, np.ndarray[Any, Any]]:
        """The first frame numbered after ``after`` (waits for it)."""
        while self.seq <= after or self.frame is None:
            await self._new.wait()
        return self.seq, self.frame

    async def first_picture(self) -> None:
        """Until the feed has a frame.  NoPicture after ``first_frame_s``, or at once when
        the camera refused the login (waiting longer cannot help)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.limits.first_frame_s):
                while self.frame is None and self.reason not in LOGIN_REASONS:
                    await self._new.wait()
        if self.frame is not None:
            return
        reason = self.error or f"no frame within {self.limits.first_frame_s:g}s"
        raise NoPicture(f"no picture from {self.camera}: {reason}",
                        self.reason or "no_picture")


class FeedTrack(MediaStreamTrack):
    """One viewer's video track: the feed's frames, each sent once, in order."""

    kind = "video"

    def __init__(self, feed: CameraFeed) -> None:
        super().__init__()
        self.feed = feed
        self._seq = 0
        self._start: float | None = None

    async def recv(self) -> av.VideoFrame:
        self._seq, image = await self.feed.next_frame(self._seq)
        now = time.monotonic()
        if self._start is None:
            self._start = now
        frame = av.VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts = int((now - self._start) * 90_000)
        frame.time_base = VIDEO_TIME_BASE
        return frame


@dataclass(slots=True)
class LiveSession:
    id: str
    user: str
    camera: str
    pc: RTCPeerConnection
    started: float = field(default_factory=time.monotonic)
    expiry: asyncio.TimerHandle | None = None


class LiveView:
    """Every live stream of the server: ``offer()`` opens one, ``close()`` ends one."""

    def __init__(self, limits: LiveViewLimits | None = None,
                 credentials: CameraCredentials | None = None) -> None:
        self.limits = limits or LiveViewLimits()
        self.credentials = credentials or CameraCredentials(None)
        self.sessions: dict[str, LiveSession] = {}
        self.feeds: dict[str, CameraFeed] = {}
        self._lock = asyncio.Lock()
        self._closing: set[asyncio.Task[bool]] = set()

    def viewers(self, camera: str) -> int:
        return sum(1 for s in self.sessions.values() if s.camera == camera)

    def _admit(self, user: str, camera: str) -> None:
        lim = self.limits
        if len(self.sessions) >= lim.total:
            raise LimitReached(f"the server already relays {lim.total} live streams")
        if self.viewers(camera) >= lim.per_camera:
            raise LimitReached(f"{camera} already has {lim.per_camera} viewers")
        mine = sum(1 for s in self.sessions.values() if s.user == user)
        if mine >= lim.per_user:
            raise LimitReached(f"{user} already watches {lim.per_user} live streams; "
                               "close one first")

    async def offer(self, user: str, camera: str, url: str, sdp: str, kind: str,
                    ) -> dict[str, str]:
        """Answer a browser's offer for ``camera`` (``url``: the stream its edge reported):
        {"session", "sdp", "type"}.  Raises LimitReached, NoPicture or LiveViewError."""
        async with self._lock:
            self._admit(user, camera)
            source = self.credentials.source(camera, url)
            feed = self.feeds.get(camera)
            if feed is None or feed.source != source:
                if feed is not None:
                    feed.stop()
                feed = self.feeds[camera] = CameraFeed(camera, source, self.limits)
            feed.viewers += 1
        try:
            if feed.frame is None:
                await feed.first_picture()
            pc = RTCPeerConnection()
            session = LiveSession(uuid.uuid4().hex, user, camera, pc)
            pc.addTrack(FeedTrack(feed))
            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=kind))
                await pc.setLocalDescription(await pc.createAnswer())
            except Exception as err:  # aiortc raises ValueError and friends on bad SDP
                await pc.close()
                raise LiveViewError(f"the offer cannot be answered: {err}") from err
        except BaseException:
            await self._release(camera)
            raise
        self.sessions[session.id] = session
        pc.on("connectionstatechange", lambda: self._state_changed(session))
        session.expiry = asyncio.get_running_loop().call_later(
            self.limits.max_session_s, self._close_later, session.id)
        log.info("live view %s: %s watches %s (%d viewer(s))", session.id[:8], user, camera,
                 self.viewers(camera))
        local = pc.localDescription
        return {"session": session.id, "sdp": local.sdp, "type": local.type}

    def _state_changed(self, session: LiveSession) -> None:
        if session.pc.connectionState in ("failed", "closed"):
            self._close_later(session.id)

    def _close_later(self, session_id: str) -> None:
        task = asyncio.get_running_loop().create_task(self.close(session_id),
                                                      name=f"live:close:{session_id[:8]}")
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def close(self, session_id: str, user: str | None = None) -> bool:
        """End a session (only its own user's, when ``user`` is given)."""
        session = self.sessions.get(session_id)
        if session is None or (user is not None and session.user != user):
            return False
        del self.sessions[session_id]
        if session.expiry is not None:
            session.expiry.cancel()
        await session.pc.close()
        await self._release(session.camera)
        log.info("live view %s of %s ended after %.0fs", session_id[:8], session.camera,
                 time.monotonic() - session.started)
        return True

    async def _release(self, camera: str) -> None:
        async with self._lock:
            feed = self.feeds.get(camera)
            if feed is not None:
                feed.viewers -= 1
                if feed.viewers <= 0:
                    feed.stop()
                    del self.feeds[camera]

    async def aclose(self) -> None:
        for session_id in list(self.sessions):
            await self.close(session_id)
        for feed in self.feeds.values():
            feed.stop()
        self.feeds.clear()
