"""The labelled clip set of the diagnostics tests (no tests of its own).

A clip is a few seconds of frames as the camera driver would sample them (2 per second),
labelled with what a person looking at it would say.  Scenes vary at random (seeded): room
lighting, sensor noise, number of people walking, JPEG quality; the faults vary in strength.
Noise is added *after* blur, darkening and colour cast, as a real sensor adds it after the
optics.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np

from simulators.devices.scene import Frame, SceneRenderer, SceneStyle

LABELS = ("ok", "black", "dark", "frozen", "occluded", "blurred", "colour_cast")
FRAME_STEP_S = 0.5
CLIP_FRAMES = 12  # 5.5 s: longer than the default frozen window (4 s) plus debounce
SHORT_CLIP_FRAMES = 5  # 2 s: longer than the default debounce (1 s)


@dataclass(frozen=True)
class Clip:
    label: str
    frames: list[Frame]
    note: str


def _jpeg(frame: Frame, quality: int) -> Frame:
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    assert decoded is not None
    return decoded


class _Sensor:
    """Sensor noise: a few pre-drawn tiles used in turn (drawing fresh Gaussian noise for
    every frame would dominate the test's run time)."""

    def __init__(self, shape: tuple[int, ...], sigma: float) -> None:
        self.tiles = []
        for _ in range(3):
            n = np.empty(shape, np.int16)
            cv2.randn(n, 0, sigma)
            self.tiles.append(n)
        self.k = 0

    def __call__(self, frame: Frame) -> Frame:
        self.k += 1
        return cv2.add(frame, self.tiles[self.k % 3], dtype=cv2.CV_8U)


def _renderer(rng: np.random.Generator, i: int, width: int, height: int,
              noise: float = 0.0) -> SceneRenderer:
    # Walls and floors of real rooms: near-neutral with a mild tint (beige, pale green,
    # light blue soft padding), not saturated colours.
    wall = tuple(int(c) for c in int(rng.integers(130, 210)) + rng.integers(-18, 19, 3))
    floor = tuple(int(c) for c in int(rng.integers(70, 140)) + rng.integers(-15, 16, 3))
    style = SceneStyle(brightness=float(rng.uniform(0.7, 1.3)), noise_sigma=noise,
                       wall=wall, floor=floor, seed=i)  # type: ignore[arg-type]
    return SceneRenderer(f"Room {i}  camera-{i}", width, height, style)


def make_clip(label: str, i: int, width: int = 640, height: int = 360) -> Clip:
    """Clip number ``i`` of class ``label`` (deterministic)."""
    seed = 1000 * LABELS.index(label) + i
    rng = np.random.default_rng(seed)
    cv2.setRNGSeed(seed)
    sigma = float(rng.uniform(1.0, 6.0))
    quality = int(rng.integers(40, 91))
    figures = int(rng.integers(0, 5))
    r = _renderer(rng, i, width, height)
    t0 = float(rng.uniform(0, 1000))
    clock = time.time()
    # Only "ok" and "frozen" need the long clip (the frozen window); the others are
    # judged on their picture, past the debounce.
    n = CLIP_FRAMES if label in ("ok", "frozen") else SHORT_CLIP_FRAMES
    times = [t0 + k * FRAME_STEP_S for k in range(n)]
    sensor = _Sensor((height, width, 3), sigma)

    def clean(t: float) -> Frame:
        return r.render(t, figures, clock=clock + t - t0)

    def finish(frame: Frame) -> Frame:
        return _jpeg(sensor(frame), quality)

    note = f"noise {sigma:.1f}, q{quality}, {figures} people, brightness {r.style.brightness:.2f}"
    if label == "ok":
        frames = [finish(clean(t)) for t in times]
    elif label == "black":
        level = int(rng.integers(0, 12))
        frames = [finish(np.full((height, width, 3), level, np.uint8)) for _ in times]
        note = f"level {level}, noise {sigma:.1f}"
    elif label == "dark":
        factor = float(rng.uniform(0.12, 0.3))
        frames = [finish(r.darkened(clean(t), factor)) for t in times]
        note += f", light x{factor:.2f}"
    elif label == "frozen":
        # The same picture over and over; half of the clips keep a live OSD clock (a
        # camera whose sensor path hung while its overlay still ticks).
        still = finish(clean(times[0]))
        live_clock = bool(rng.integers(0, 2))
        frames = []
        for k, _ in enumerate(times):
            f = still.copy()
            if live_clock:
                cv2.rectangle(f, (5, height - 30), (260, height - 5), (0, 0, 0), -1)
                cv2.putText(f, f"2026-01-01 12:00:{k:02d}", (10, height - 12),
                            cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
            frames.append(f)
        note += f", osd clock {'live' if live_clock else 'frozen'}"
    elif label == "occluded":
        frames = [finish(r.covered(clean(t), seed=i)) for t in times]
    elif label == "blurred":
        blur = float(rng.uniform(3.0, 7.0)) * width / 640
        frames = [finish(r.blurred(clean(t), blur)) for t in times]
        note += f", blur sigma {blur:.1f}"
    elif label == "colour_cast":
        gains = np.ones(3)
        up, down = rng.choice(3, 2, replace=False)
        gains[up], gains[down] = rng.uniform(1.35, 1.7), rng.uniform(0.45, 0.7)
        frames = [finish(r.colour_cast(clean(t), tuple(gains))) for t in times]  # type: ignore[arg-type]
        note += f", gains {np.round(gains, 2).tolist()}"
    else:
        raise ValueError(label)
    return Clip(label, frames, note)


def labelled_set(per_label: int = 30, width: int = 640, height: int = 360) -> list[Clip]:
    return [make_clip(label, i, width, height) for label in LABELS for i in range(per_label)]
