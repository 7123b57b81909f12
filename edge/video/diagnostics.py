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
``occluded``, ``dark``, ``blurred``, ``colour_cast``, else ``ok``; before the first picture
``starting`` (for ``startup_grace_s``).  Commercial video
quality diagnosis uses the same families (黑屏, 画面冻结, 遮挡, 过暗, 模糊, 偏色,
信号丢失); the measures are the classic ones (mean/spread of luma, share of blank cells,
Laplacian energy of a denoised image, the Lab colour-cast factor K = D / M).

Thresholds come from the camera profile's ``thresholds`` (device_profiles/camera.yaml,
validated by protocol/camera.py); durations there are site seconds, scaled by ``--speed`` by
the caller.  Each verdict carries its *info* — a code and parameters
(``{"code": "frozen", "seconds": 12}``, protocol/camera.py) that the server renders in
Chinese or English — and the English ``detail`` made from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import cv2
import numpy as np
from numpy.typing import NDArray

from protocol.camera import DiagnosticThresholds
from protocol.reasons import Info, InfoValue, detail_text

__all__ = ["DIAGNOSES", "Diagnoser", "Diagnosis", "DiagnosticThresholds", "FrameFindings",
           "Verdict", "analyse", "changed_fraction"]

Diagnosis = Literal["starting", "ok", "no_signal", "stale", "black", "frozen", "occluded",
                    "dark", "blurred", "colour_cast"]
DIAGNOSES: tuple[str, ...] = ("starting", "ok", "no_signal", "stale", "black", "frozen",
                              "occluded", "dark", "blurred", "colour_cast")

Image = NDArray[Any]  # an OpenCV image: H×W×3 BGR or H×W grey, uint8
GRID = (16, 9)  # cells across, down: a cell is "blank" when it has no texture at all
FREEZABLE = frozenset({"ok", "blurred", "colour_cast"})


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

    def info(self) -> dict[str, InfoValue]:
        """The measures behind a picture diagnosis (code ``measures``)."""
        return {"code": "measures", "luma": round(self.luma), "spread": round(self.spread),
                "blank": round(self.blank, 2), "sharpness": round(self.sharpness, 1),
                "cast": round(self.cast, 1)}

    def detail(self) -> str:
        return detail_text(self.info(), "en")


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
    from the previous report.  ``info``: why (protocol/camera.py), ``detail`` in English."""

    diagnosis: Diagnosis
    info: Info
    changed: bool

    @property
    def detail(self) -> str:
        return detail_text(self.info, "en")


STARTING: Info = {"code": "starting"}


class Diagnoser:
    """One camera's diagnosis over time.  Feed it frames (:meth:`frame`), losses
    (:meth:`lost`) and the passing of time (:meth:`tick`) with when they happened (seconds,
    any monotonic clock).  Durations are real seconds: the driver scales the profile's site
    seconds by --speed before building one.

    It starts ``starting``: until the first picture (debounced like any diagnosis) and for
    at most ``startup_grace_s`` after the first look, a camera that answers but sends nothing
    yet is not stale — many cameras and a busy machine take seconds to deliver a first
    frame.  A camera that does not answer at all is no_signal at once (after the debounce).
    """

    def __init__(self, th: DiagnosticThresholds, *, frozen_after_s: float | None = None,
                 stale_after_s: float | None = None, debounce_s: float | None = None,
                 startup_grace_s: float | None = None) -> None:
        self.th = th
        self.frozen_after_s = th.frozen_after_s if frozen_after_s is None else frozen_after_s
        self.stale_after_s = th.stale_after_s if stale_after_s is None else stale_after_s
        self.debounce_s = th.debounce_s if debounce_s is None else debounce_s
        self.startup_grace_s = th.startup_grace_s if startup_grace_s is None \
            else startup_grace_s
        self.reported: Diagnosis = "starting"
        self.reported_info: Info = STARTING
        self.last: FrameFindings | None = None
        self.last_frame_at: float | None = None
        self.connected = True
        self.loss: Info = {}  # why no frame can be had: {"code": "connection_refused"}, …
        self._first_look: float | None = None
        self._previous_small: Image | None = None
        self._unchanged_since: float | None = None
        self._candidate: Diagnosis | None = None
        self._candidate_since = 0.0

    @property
    def reported_detail(self) -> str:
        return detail_text(self.reported_info, "en")

    @property
    def loss_reason(self) -> str:
        return detail_text(self.loss, "en") if self.loss else ""

    def frame(self, findings: FrameFindings, now: float) -> Verdict:
        """A frame arrived and was analysed."""
        self.connected, self.loss = True, {}
        self.last, self.last_frame_at = findings, now
        if self._previous_small is None or changed_fraction(
                findings.small, self._previous_small) > self.th.frozen_changed_fraction:
            self._unchanged_since = now
        self._previous_small = findings.small
        frozen_for = now - (self._unchanged_since if self._unchanged_since is not None else now)
        diagnosis: Diagnosis = findings.diagnosis
        info: Info = findings.info()
        # A black, dark or covered picture has nothing to change: its own diagnosis says
        # more than "frozen" would.
        if frozen_for >= self.frozen_after_s and diagnosis in FREEZABLE:
            diagnosis, info = "frozen", {"code": "frozen", "seconds": round(frozen_for)}
        return self._propose(diagnosis, info, now)

    def lost(self, loss: Info, now: float, *, connected: bool) -> Verdict:
        """No frame can be had: the stream is gone (``connected`` False: the camera does
        not answer) or open but silent (``connected`` True: stale once past the window).
        ``loss`` says why: a loss code (protocol/camera.py) and its parameters."""
        self.connected, self.loss = connected, dict(loss)
        if not connected:
            self._previous_small, self._unchanged_since = None, None
        return self.tick(now)

    def tick(self, now: float) -> Verdict:
        """Time passes (the driver calls this periodically, frame or not)."""
        if self._first_look is None:
            self._first_look = now  # silence counts from the first look
        if not self.connected:
            return self._propose("no_signal", self.loss or {"code": "cannot_open"}, now)
        since = self.last_frame_at
        if since is None:
            since = self._first_look
            if now - since < self.startup_grace_s and self.reported == "starting":
                return Verdict(self.reported, self.reported_info, False)
        if now - since >= self.stale_after_s:
            info: dict[str, InfoValue] = {"code": "no_frame", "seconds": round(now - since)}
            if self.loss:
                info.update({k: v for k, v in self.loss.items() if k != "code"},
                            cause=str(self.loss.get("code", "")))
            return self._propose("stale", info, now)
        return Verdict(self.reported, self.reported_info, False)

    def _propose(self, diagnosis: Diagnosis, info: Info, now: float) -> Verdict:
        if diagnosis == self.reported:
            self._candidate = None
            self.reported_info = info
            return Verdict(diagnosis, info, False)
        if diagnosis != self._candidate:
            self._candidate, self._candidate_since = diagnosis, now
        if now - self._candidate_since >= self.debounce_s:
            self.reported, self.reported_info = diagnosis, info
            self._candidate = None
            return Verdict(diagnosis, info, True)
        return Verdict(self.reported, self.reported_info, False)
