"""Synthetic camera pictures: a room with furniture, its name, the time and moving figures,
plus the picture faults a real camera shows (black, dark, occluded, blurred, colour cast).

Pure frame generation (numpy + OpenCV, no I/O): the simulated cameras
(simulators/devices/cameras.py) serve these frames as MJPEG, the diagnostics tests build
their labelled set from them and ``custodywatch bench camera`` measures on them.

Cost matters (23 cameras on a 2-core machine): the room and the sensor noise are drawn
once; a frame is a copy of the room, a few figures, two lines of text and a pre-computed
noise tile (~1 ms at 640×360).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

Frame = NDArray[Any]  # H×W×3 uint8, BGR (OpenCV's order)

PICTURE_FAULTS = ("black", "dark", "occluded", "blurred", "colour_cast")
"""Faults that change the picture itself (frozen, stale and offline change the stream)."""

_NOISE_TILES = 4


@dataclass(frozen=True, slots=True)
class SceneStyle:
    """What varies between rooms (and between the labelled test scenes)."""

    brightness: float = 1.0  # 1 = a normally lit room
    noise_sigma: float = 2.0  # sensor noise, grey levels
    wall: tuple[int, int, int] = (170, 180, 185)  # BGR
    floor: tuple[int, int, int] = (105, 115, 125)
    seed: int = 0


_noise_cache: dict[tuple[int, int, float], list[tuple[Frame, Frame]]] = {}


def _noise_tiles(width: int, height: int, sigma: float) -> list[tuple[Frame, Frame]]:
    """Zero-mean sensor noise as pairs of non-negative halves (cv2.add/subtract saturate),
    drawn once per size and shared by every camera (23 cameras × 5 MB otherwise)."""
    if sigma <= 0:
        return []
    key = (width, height, sigma)
    if key not in _noise_cache:
        tiles = []
        for _ in range(_NOISE_TILES):
            n = np.empty((height, width, 3), np.int16)
            cv2.randn(n, np.zeros(3), np.full(3, sigma))
            tiles.append((np.clip(n, 0, 255).astype(np.uint8),
                          np.clip(-n, 0, 255).astype(np.uint8)))
        _noise_cache[key] = tiles
    return _noise_cache[key]


class SceneRenderer:
    """Frames of one room: ``render(t, figures)`` at any time ``t`` (seconds)."""

    def __init__(self, title: str, width: int = 640, height: int = 360,
                 style: SceneStyle | None = None) -> None:
        self.title = title
        self.width, self.height = width, height
        self.style = style or SceneStyle()
        rng = np.random.default_rng(self.style.seed)
        self._room = self._draw_room(rng)
        self._noise = _noise_tiles(width, height, self.style.noise_sigma)
        self._tile = self.style.seed % _NOISE_TILES
        self._palette = [tuple(int(c) for c in rng.integers(30, 200, 3)) for _ in range(8)]

    def _draw_room(self, rng: np.random.Generator) -> Frame:
        w, h, s = self.width, self.height, self.style
        room = np.empty((h, w, 3), np.uint8)
        horizon = int(h * rng.uniform(0.45, 0.6))
        room[:horizon] = s.wall
        room[horizon:] = s.floor
        # A light gradient on the wall and floor tiles: texture for the blur measure.
        shade = np.linspace(1.1, 0.8, w, dtype=np.float32)[None, :, None]
        room = np.clip(room.astype(np.float32) * shade, 0, 255).astype(np.uint8)
        for x in range(0, w, max(8, w // 16)):
            cv2.line(room, (x, horizon), (w // 2 + (x - w // 2) * 2, h), (80, 90, 100), 1)
        for y in range(horizon, h, max(6, h // 24)):
            cv2.line(room, (0, y), (w, y), (90, 100, 110), 1)
        # Door, a table with two chairs, a window, a camera-facing clock.
        sx, sy = w / 640, h / 360
        door_x = int(rng.uniform(0.05, 0.2) * w)
        cv2.rectangle(room, (door_x, int(horizon - 170 * sy)), (door_x + int(70 * sx), horizon),
                      (60, 80, 110), -1)
        cv2.circle(room, (door_x + int(58 * sx), int(horizon - 80 * sy)), max(2, int(4 * sx)),
                   (40, 170, 200), -1)
        tx = int(rng.uniform(0.35, 0.55) * w)
        cv2.rectangle(room, (tx, int(horizon + 40 * sy)),
                      (tx + int(190 * sx), int(horizon + 70 * sy)), (40, 70, 100), -1)
        for cx in (tx - int(40 * sx), tx + int(200 * sx)):
            cv2.rectangle(room, (cx, int(horizon + 20 * sy)),
                          (cx + int(30 * sx), int(horizon + 90 * sy)), (50, 50, 60), -1)
        wx = int(rng.uniform(0.6, 0.8) * w)
        cv2.rectangle(room, (wx, int(40 * sy)), (wx + int(100 * sx), int(110 * sy)),
                      (220, 210, 190), -1)
        cv2.rectangle(room, (wx, int(40 * sy)), (wx + int(100 * sx), int(110 * sy)),
                      (90, 90, 90), max(1, int(3 * sx)))
        cv2.line(room, (wx + int(50 * sx), int(40 * sy)), (wx + int(50 * sx), int(110 * sy)),
                 (90, 90, 90), max(1, int(2 * sx)))
        if s.brightness != 1.0:
            room = cv2.convertScaleAbs(room, alpha=s.brightness)
        return room

    def render(self, t: float, figures: int = 1, clock: float | None = None) -> Frame:
        """The room at time ``t`` with ``figures`` people walking about; the OSD shows
        ``clock`` (epoch seconds, default now) like a real camera's."""
        frame = self._room.copy()
        w, h = self.width, self.height
        sx = w / 640
        for i in range(figures):
            # Each figure walks its own smooth loop across the room.
            phase = t * (0.35 + 0.07 * i) + i * 1.7
            x = int(w * (0.5 + 0.38 * math.sin(phase)))
            y = int(h * (0.62 + 0.12 * math.sin(phase * 0.7 + i)))
            colour = self._palette[i % len(self._palette)]
            body_w, body_h = int(26 * sx), int(80 * sx)
            cv2.rectangle(frame, (x - body_w // 2, y - body_h), (x + body_w // 2, y), colour, -1)
            cv2.circle(frame, (x, y - body_h - int(12 * sx)), int(12 * sx), (120, 150, 190), -1)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(clock or time.time()))
        scale = 0.5 * sx
        cv2.putText(frame, self.title, (int(10 * sx), int(22 * sx)), cv2.FONT_HERSHEY_SIMPLEX,
                    scale, (255, 255, 255), max(1, int(sx)), cv2.LINE_AA)
        cv2.putText(frame, stamp, (int(10 * sx), h - int(12 * sx)), cv2.FONT_HERSHEY_SIMPLEX,
                    scale, (255, 255, 255), max(1, int(sx)), cv2.LINE_AA)
        return self._add_noise(frame)

    def _add_noise(self, frame: Frame) -> Frame:
        if self.style.noise_sigma <= 0:
            return frame
        plus, minus = self._noise[self._tile]
        self._tile = (self._tile + 1) % len(self._noise)
        cv2.add(frame, plus, dst=frame)
        cv2.subtract(frame, minus, dst=frame)
        return frame

    # ------------------------------------------------------------------ faults

    def black(self) -> Frame:
        """A camera with its lens dead or its video signal gone to black: noise on ~0."""
        return self._add_noise(np.full((self.height, self.width, 3), 4, np.uint8))

    def covered(self, frame: Frame, seed: int = 0) -> Frame:
        """A hand, a cloth or tape over the lens: a blurred, featureless blob of one colour
        over nearly the whole picture, lit from the uncovered edge."""
        rng = np.random.default_rng(seed)
        colour = np.array(rng.integers(25, 120, 3), np.float32)
        h, w = self.height, self.width
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        cx, cy = rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h
        falloff = 1.0 - 0.35 * np.hypot((xx - cx) / w, (yy - cy) / h)
        blob = (colour[None, None, :] * falloff[..., None]).clip(0, 255).astype(np.uint8)
        # Let a sliver of the room show at one edge (the cover is rarely perfect).
        edge = int(rng.uniform(0.0, 0.08) * w)
        if edge:
            blob[:, :edge] = frame[:, :edge]
        return self._add_noise(cv2.GaussianBlur(blob, (0, 0), 6))

    @staticmethod
    def blurred(frame: Frame, sigma: float = 4.0) -> Frame:
        """Out of focus (or a smeared lens)."""
        return cv2.GaussianBlur(frame, (0, 0), sigma)

    @staticmethod
    def darkened(frame: Frame, factor: float = 0.15) -> Frame:
        """Lights off / IR cut failed: the room is there but hardly visible."""
        return cv2.convertScaleAbs(frame, alpha=factor)

    @staticmethod
    def colour_cast(frame: Frame, gains: tuple[float, float, float] = (0.5, 0.8, 1.4)) -> Frame:
        """White balance gone wrong: every colour shifted toward one hue (BGR gains)."""
        out = frame.astype(np.float32) * np.array(gains, np.float32)[None, None, :]
        return np.clip(out, 0, 255).astype(np.uint8)

    def with_fault(self, fault: str, t: float, figures: int = 1, seed: int = 0) -> Frame:
        """A frame showing ``fault`` (one of PICTURE_FAULTS) at time ``t``."""
        if fault == "black":
            return self.black()
        frame = self.render(t, figures)
        if fault == "dark":
            return self.darkened(frame)
        if fault == "occluded":
            return self.covered(frame, seed)
        if fault == "blurred":
            return self.blurred(frame)
        if fault == "colour_cast":
            return self.colour_cast(frame)
        raise ValueError(f"unknown picture fault {fault!r}; known: {', '.join(PICTURE_FAULTS)}")


def encode_jpeg(frame: Frame, quality: int = 75) -> bytes:
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 BGR image
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()
