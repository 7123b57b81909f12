"""Picture diagnostics (视频质量诊断): is a camera really showing the room?

Pure: frames and a clock in, diagnoses out; no I/O, no threads.  Two parts:

* :func:`analyse` looks at one frame (downscaled to ``analysis_width`` first, so the cost
  hardly depends on the camera's resolution) and measures brightness, contrast, how much
  of the picture is featureless, sharpness and colour balance;
* :class:`Diagnoser` follows one camera over time: a picture that does not change at all
  (frozen), no frame at all (stale / no signal), and a debounce so a one-frame glitch
  (an auto-exposure step, a door slamming the light off for a moment) is not an alarm.

Diagnoses, most serious first (a frame showing several faults gets the first):
``no_signal`` (no stream), ``stale`` (stream open, no new frame), ``black``, ``frozen``,
``occluded``, ``dark``, ``blurred``, ``colour_cast``, else ``ok``.  Commercial video
quality diagnosis uses the same families (黑屏, 画面冻结, 遮挡, 过暗, 模糊, 偏色,
信号丢失); the measures are the classic ones (mean/spread of luma, share of blank cells,
Laplacian energy of a denoised image, the Lab colour-cast factor K = D / M).

Thresholds come from the camera profile's ``thresholds`` (device_profiles/camera.yaml);
durations there are site seconds, scaled by ``--speed`` by the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import cv2
import numpy as np
from numpy.typing import NDArray
from pydantic import Field, ValidationError

from protocol.config import StrictModel

Diagnosis = Literal["ok", "no_signal", "stale", "black", "frozen", "occluded", "dark",
                    "blurred", "colour_cast"]
DIAGNOSES: tuple[str, ...] = ("ok", "no_signal", "stale", "black", "frozen", "occluded", "dark",
                              "blurred", "colour_cast")

Image = NDArray[Any]  # an OpenCV image: H×W×3 BGR or H×W grey, uint8
GRID = (16, 9)  # cells across, down: a cell is "blank" when it has no texture at all
FREEZABLE = frozenset({"ok", "blurred", "colour_cast"})


class DiagnosticThresholds(StrictModel):
    """The camera profile's thresholds that drive the diagnostics (site seconds)."""

    sample_fps: float = Field(default=2.0, gt=0, le=30, description="frames analysed per second")
    analysis_width: int = Field(default=320, ge=64, le=1920)
    stale_after_s: float = Field(default=6.0, gt=0, description="no new frame this long")
    frozen_after_s: float = Field(default=4.0, gt=0, description="no change this long")
    frozen_changed_fraction: float = Field(
        default=0.01, ge=0, le=1,
        description="a frame differs from the previous when more than this share of its "
                    "pixels changed by 2 grey levels or more (noise does; an OSD clock "
                    "alone does not)")
    debounce_s: float = Field(default=1.0, ge=0, description="a new diagnosis must persist")
    black_luma: float = Field(default=20.0, ge=0, le=255)
    black_spread: float = Field(default=2.0, ge=0, le=255)
    dark_luma: float = Field(default=45.0, ge=0, le=255)
    blank_cell_std: float = Field(default=3.0, ge=0, le=255)
    occluded_fraction: float = Field(default=0.85, ge=0, le=1)
    occluded_spread: float = Field(default=40.0, ge=0, le=255,
                                   description="an occluded picture is nearly one tone")
    blur_sharpness: float = Field(default=1.25, ge=0)
    colour_cast_factor: float = Field(default=1.5, ge=0)
    colour_cast_min: float = Field(default=18.0, ge=0, description="Lab a/b shift, at least")
    connect_timeout_s: float = Field(default=5.0, gt=0, le=120)
    read_timeout_s: float = Field(default=5.0, gt=0, le=120)
    reconnect_s: float = Field(default=2.0, gt=0, le=600)

    @classmethod
    def from_profile(cls, thresholds: Mapping[str, float]) -> DiagnosticThresholds:
        """From a camera profile's ``thresholds``; raises ValueError naming a bad key."""
        try:
            return cls.model_validate(dict(thresholds))
        except ValidationError as err:
            problems = "; ".join(f"thresholds.{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                 for e in err.errors())
            raise ValueError(f"camera profile: {problems}") from err


@dataclass(frozen=True, slots=True)
class FrameFindings:
    """What one frame shows (measures at analysis resolution) and its diagnosis."""

    diagnosis: Diagnosis
    luma: float  # mean grey level 0..255
    spread: float  # std of grey levels
    blank: float  # share of cells without texture
    sharpness: float  # mean |Laplacian| of the denoised picture
    cast: float  # colour-cast factor K
    cast_shift: float  # Lab a/b distance from neutral
    width: int
    height: int
    small: Image = field(repr=False, compare=False)  # grey, analysis size

    def detail(self) -> str:
        return (f"luma {self.luma:.0f}, spread {self.spread:.0f}, blank {self.blank:.0%}, "
                f"sharpness {self.sharpness:.1f}, cast {self.cast:.1f}")


def analyse(frame: Image, th: DiagnosticThresholds) -> FrameFindings:
    """Diagnose one BGR (or grey) frame.  Raises ValueError for an empty frame."""
    if frame is None or frame.size == 0 or frame.ndim not in (2, 3):
        raise ValueError("empty or malformed frame")
    h, w = frame.shape[:2]
    aw = min(th.analysis_width, w)
    ah = max(1, round(h * aw / w))
    small = frame if aw == w else cv2.resize(frame, (aw, ah), interpolation=cv2.INTER_AREA)
    if small.ndim == 3 and small.shape[2] == 3:
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        cast, shift = _colour_cast(small)
    else:
        grey = small if small.ndim == 2 else small[:, :, 0]
        cast, shift = 0.0, 0.0
    mean, std = cv2.meanStdDev(grey)
    luma, spread = float(mean[0, 0]), float(std[0, 0])
    blank = _blank_share(grey, th.blank_cell_std)
    # Denoise a little first: sensor noise is high-frequency "detail" a blurred picture
    # still has; edges survive a 3×3 blur, noise mostly does not.
    smooth = cv2.GaussianBlur(grey, (3, 3), 0)
    lap = float(cv2.mean(cv2.convertScaleAbs(cv2.Laplacian(smooth, cv2.CV_16S)))[0])
    gx = cv2.convertScaleAbs(cv2.Sobel(smooth, cv2.CV_16S, 1, 0))
    gy = cv2.convertScaleAbs(cv2.Sobel(smooth, cv2.CV_16S, 0, 1))
    grad = float(cv2.mean(gx)[0] + cv2.mean(gy)[0])
    sharpness = 10.0 * lap / max(grad, 1.0)
    if luma < th.black_luma and spread < th.black_spread:
        diagnosis: Diagnosis = "black"
    elif blank >= th.occluded_fraction and spread < th.occluded_spread \
            and luma >= th.black_luma + 10:
        # Nearly one featureless tone, but not black: something in front of the lens (a
        # dark room still shows its edges in a share of the cells).
        diagnosis = "occluded"
    elif luma < th.dark_luma:
        diagnosis = "dark"
    elif sharpness < th.blur_sharpness:
        diagnosis = "blurred"
    elif cast > th.colour_cast_factor and shift > th.colour_cast_min:
        diagnosis = "colour_cast"
    else:
        diagnosis = "ok"
    return FrameFindings(diagnosis, luma, spread, blank, sharpness, cast, shift, w, h, grey)


def _blank_share(grey: Image, cell_std: float) -> float:
    """Share of grid cells whose grey levels hardly vary (std below ``cell_std``)."""
    f = grey.astype(np.float32)
    mean = cv2.resize(f, GRID, interpolation=cv2.INTER_AREA)
    mean_sq = cv2.resize(f * f, GRID, interpolation=cv2.INTER_AREA)
    var = np.maximum(mean_sq - mean * mean, 0.0)
    return float(np.count_nonzero(var < cell_std * cell_std)) / var.size


def _colour_cast(small: Image) -> tuple[float, float]:
    """The colour-cast factor K = D / M in Lab: D the distance of the mean (a, b) from
    neutral, M the mean spread of a and b around their means.  A picture whose colours all
    lean one way (large D, small M) has a cast; a colourful scene (large M) has not."""
    lab = cv2.cvtColor(small, cv2.COLOR_BGR2LAB)
    a = lab[:, :, 1].astype(np.float32) - 128.0
    b = lab[:, :, 2].astype(np.float32) - 128.0
    da, db = float(a.mean()), float(b.mean())
    ma, mb = float(np.abs(a - da).mean()), float(np.abs(b - db).mean())
    d = (da * da + db * db) ** 0.5
    m = (ma * ma + mb * mb) ** 0.5
    return d / max(m, 1.0), d


def changed_fraction(a: Image, b: Image) -> float:
    """Share of pixels that changed by 2 grey levels or more between two analysis frames."""
    if a.shape != b.shape:
        return 1.0
    diff = cv2.absdiff(a, b)
    return float(np.count_nonzero(diff >= 2)) / diff.size


@dataclass(frozen=True, slots=True)
class Verdict:
    """A camera's diagnosis as reported: ``changed`` the moment a debounced diagnosis differs
    from the previous report."""

    diagnosis: Diagnosis
    detail: str
    changed: bool


class Diagnoser:
    """One camera's diagnosis over time.  Feed it frames (:meth:`frame`), losses
    (:meth:`lost`) and the passing of time (:meth:`tick`) with when they happened (seconds,
    any monotonic clock).  Durations are real seconds: the driver scales the profile's site
    seconds by --speed before building one."""

    def __init__(self, th: DiagnosticThresholds, *, frozen_after_s: float | None = None,
                 stale_after_s: float | None = None, debounce_s: float | None = None) -> None:
        self.th = th
        self.frozen_after_s = th.frozen_after_s if frozen_after_s is None else frozen_after_s
        self.stale_after_s = th.stale_after_s if stale_after_s is None else stale_after_s
        self.debounce_s = th.debounce_s if debounce_s is None else debounce_s
        self.reported: Diagnosis = "ok"
        self.reported_detail = ""
        self.last: FrameFindings | None = None
        self.last_frame_at: float | None = None
        self.connected = True
        self.loss_reason = ""
        self._previous_small: Image | None = None
        self._unchanged_since: float | None = None
        self._candidate: Diagnosis | None = None
        self._candidate_since = 0.0

    def frame(self, findings: FrameFindings, now: float) -> Verdict:
        """A frame arrived and was analysed."""
        self.connected, self.loss_reason = True, ""
        self.last, self.last_frame_at = findings, now
        if self._previous_small is None or changed_fraction(
                findings.small, self._previous_small) > self.th.frozen_changed_fraction:
            self._unchanged_since = now
        self._previous_small = findings.small
        frozen_for = now - (self._unchanged_since if self._unchanged_since is not None else now)
        diagnosis, detail = findings.diagnosis, findings.detail()
        # A black, dark or covered picture has nothing to change: its own diagnosis says
        # more than "frozen" would.
        if frozen_for >= self.frozen_after_s and diagnosis in FREEZABLE:
            diagnosis, detail = "frozen", f"no change for {frozen_for:.0f}s"
        return self._propose(diagnosis, detail, now)

    def lost(self, reason: str, now: float, *, connected: bool) -> Verdict:
        """No frame can be had: the stream is gone (``connected`` False: the camera does
        not answer) or open but silent (``connected`` True: stale once past the window)."""
        self.connected, self.loss_reason = connected, reason
        if not connected:
            self._previous_small, self._unchanged_since = None, None
        return self.tick(now)

    def tick(self, now: float) -> Verdict:
        """Time passes (the driver calls this periodically, frame or not)."""
        if not self.connected:
            return self._propose("no_signal", self.loss_reason, now)
        since = self.last_frame_at
        if since is None:
            since = self.last_frame_at = now  # silence counts from the first look
        if now - since >= self.stale_after_s:
            detail = f"no new frame for {now - since:.0f}s"
            if self.loss_reason:
                detail += f" ({self.loss_reason})"
            return self._propose("stale", detail, now)
        return Verdict(self.reported, self.reported_detail, False)

    def _propose(self, diagnosis: Diagnosis, detail: str, now: float) -> Verdict:
        if diagnosis == self.reported:
            self._candidate = None
            self.reported_detail = detail
            return Verdict(diagnosis, detail, False)
        if diagnosis != self._candidate:
            self._candidate, self._candidate_since = diagnosis, now
        if now - self._candidate_since >= self.debounce_s:
            self.reported, self.reported_detail = diagnosis, detail
            self._candidate = None
            return Verdict(diagnosis, detail, True)
        return Verdict(self.reported, self.reported_detail, False)
