"""The camera's part of the contract: its diagnostic thresholds and what a diagnosis says.

* :class:`DiagnosticThresholds` is the camera profile's ``thresholds``
  (device_profiles/camera.yaml).  protocol/profiles.py validates them when the profile loads,
  so ``custodywatch check-config`` and every process start name a bad value by
  ``file:line: thresholds.<name>`` — ranges, fractions, and the orderings the diagnostics
  rely on (a "dark" threshold must lie above the "black" one).  The edge's diagnostics
  (edge/video/diagnostics.py) run on them.
* The **diagnosis info** is the machine-readable "why" of a camera's diagnosis: a code and
  its parameters, ``{"code": "frozen", "seconds": 12}``, published as the camera metric
  ``diagnosis_info`` (compact JSON: metric values are scalars) beside the English
  ``diagnosis_detail`` that older servers read.  :func:`detail_text` renders it in Chinese
  or English, so a Chinese alarm message is Chinese throughout.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Literal

from pydantic import ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from protocol.config import StrictModel

Lang = Literal["zh", "en"]
InfoValue = str | int | float | bool
Info = Mapping[str, InfoValue]


class DiagnosticThresholds(StrictModel):
    """The camera profile's thresholds that drive the diagnostics.  Durations are site
    seconds (scaled by --speed) unless said "real seconds"; grey levels are 0..255."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    sample_fps: float = Field(default=2.0, gt=0, le=30, description="frames analysed per second")
    analysis_width: int = Field(default=320, ge=64, le=1920)
    stale_after_s: float = Field(default=6.0, gt=0, le=3600, description="no new frame this long")
    frozen_after_s: float = Field(default=4.0, gt=0, le=3600, description="no change this long")
    frozen_changed_fraction: float = Field(
        default=0.01, ge=0, lt=1,
        description="a frame differs from the previous when more than this share of its "
                    "pixels changed by 2 grey levels or more (noise does; an OSD clock "
                    "alone does not); 1 would call every picture frozen")
    debounce_s: float = Field(default=1.0, ge=0, le=600,
                              description="a new diagnosis must persist")
    black_luma: float = Field(default=20.0, ge=0, le=255)
    black_spread: float = Field(default=2.0, ge=0, le=255)
    dark_luma: float = Field(default=45.0, ge=0, le=255)
    blank_cell_std: float = Field(default=3.0, ge=0, le=255)
    occluded_fraction: float = Field(default=0.85, gt=0, le=1,
                                     description="share of featureless cells; 0 would call "
                                                 "every flat picture occluded")
    occluded_spread: float = Field(default=40.0, ge=0, le=255,
                                   description="an occluded picture is nearly one tone")
    blur_sharpness: float = Field(default=1.25, ge=0, le=100)
    colour_cast_factor: float = Field(default=1.5, gt=0, le=100)
    colour_cast_min: float = Field(default=18.0, ge=0, le=200,
                                   description="Lab a/b shift, at least")
    connect_timeout_s: float = Field(default=5.0, gt=0, le=120)
    read_timeout_s: float = Field(default=5.0, gt=0, le=120)
    reconnect_s: float = Field(default=2.0, gt=0, le=600)
    startup_grace_s: float = Field(
        default=30.0, ge=0, le=600,
        description="real seconds: a camera that answers but has not sent its first "
                    "picture yet is 'starting', not 'stale', this long after the driver "
                    "starts (a refused connection is no_signal at once)")

    @field_validator("dark_luma")
    @classmethod
    def _dark_above_black(cls, value: float, info: ValidationInfo) -> float:
        black = info.data.get("black_luma")
        if black is not None and value <= black:
            raise ValueError(f"dark_luma ({value:g}) must be above black_luma ({black:g}): "
                             "a picture darker than black_luma is already black")
        return value

    @field_validator("occluded_spread")
    @classmethod
    def _occluded_above_black(cls, value: float, info: ValidationInfo) -> float:
        black = info.data.get("black_spread")
        if black is not None and value <= black:
            raise ValueError(f"occluded_spread ({value:g}) must be above black_spread "
                             f"({black:g}): a cover still shows more variation than black")
        return value

    @classmethod
    def from_profile(cls, thresholds: Mapping[str, float]) -> DiagnosticThresholds:
        """From a camera profile's ``thresholds``; raises ValueError naming a bad key."""
        try:
            return cls.model_validate(dict(thresholds))
        except ValidationError as err:
            problems = "; ".join(f"thresholds.{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                 for e in err.errors())
            raise ValueError(f"camera profile: {problems}") from err


# ---------------------------------------------------------------------- diagnosis info

# code -> (zh, en); templates take the info's parameters (str.format).  Loss codes double
# as the ``cause`` of a stale picture.
DETAIL_TEXT: dict[str, tuple[str, str]] = {
    "starting": ("启动中, 尚未收到画面", "starting, no picture yet"),
    "measures": ("亮度 {luma}, 反差 {spread}, 无纹理 {blank:.0%}, 清晰度 {sharpness}, "
                 "偏色 {cast}",
                 "luma {luma}, spread {spread}, blank {blank:.0%}, sharpness {sharpness}, "
                 "cast {cast}"),
    "frozen": ("{seconds} 秒画面无变化", "no change for {seconds}s"),
    "no_frame": ("{seconds} 秒无新画面", "no new frame for {seconds}s"),
    "connection_refused": ("连接被拒绝", "connection refused"),
    "connection_timeout": ("连接超时", "connection timed out"),
    "network_error": ("网络错误: {error}", "{error}"),
    "not_network": ("不是网络视频流", "not a network stream"),
    "bad_port": ("地址中的端口无效", "bad port in URL"),
    "cannot_open": ("无法打开视频流", "cannot open stream"),
    "stream_ended": ("视频流中断或读取超时", "stream ended or no frame within the read timeout"),
    "corrupt_frame": ("画面数据损坏", "corrupt frame"),
    "reader_error": ("读取出错: {error}", "reader error: {error}"),
}
MAX_INFO_CHARS = 300  # the metric's JSON; error texts are cut to fit


def detail_text(info: Info, lang: Lang) -> str:
    """The info in ``lang``: its code's text, then its cause's in parentheses.  An unknown
    code or a parameter that does not fit shows the code and parameters as they are."""
    text = _render(info, str(info.get("code", "")), lang)
    cause = info.get("cause")
    if isinstance(cause, str) and cause:
        text += f" ({_render(info, cause, lang)})"
    return text


def _render(info: Info, code: str, lang: Lang) -> str:
    texts = DETAIL_TEXT.get(code)
    if texts is not None:
        try:
            return texts[0 if lang == "zh" else 1].format_map(dict(info))
        except (KeyError, ValueError, TypeError, IndexError):
            pass  # a newer edge's parameters, or bad ones: show them raw below
    params = ", ".join(f"{k} {v}" for k, v in info.items() if k not in ("code", "cause"))
    return f"{code} ({params})" if params else code


def encode_info(info: Info) -> str:
    """The metric value: compact JSON, kept under MAX_INFO_CHARS by cutting text values."""
    text = json.dumps(dict(info), ensure_ascii=False, separators=(",", ":"))
    if len(text) <= MAX_INFO_CHARS:
        return text
    cut = {k: v[:80] if isinstance(v, str) and k not in ("code", "cause") else v
           for k, v in info.items()}
    return json.dumps(cut, ensure_ascii=False, separators=(",", ":"))[:MAX_INFO_CHARS]


def decode_info(value: object) -> dict[str, InfoValue] | None:
    """The metric's info, or None if absent or not an object with a string ``code``
    (an older edge, or bad input: callers fall back to ``diagnosis_detail``)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        info = json.loads(value)
    except ValueError:
        return None
    if not isinstance(info, dict) or not isinstance(info.get("code"), str):
        return None
    return {k: v for k, v in info.items()
            if isinstance(k, str) and isinstance(v, str | int | float | bool)}


def fault_detail(status: str, diagnosis: object, info_metric: object,
                 fallback: str) -> tuple[str, str]:
    """(zh, en) detail of a camera fault for an alarm message.  The info is the camera's
    current "why" while it is online, and still while it is offline for no signal (the
    driver reports that diagnosis just before the camera is declared lost, so the loss is
    worded as its DeviceLost reason was).  Otherwise (offline or silent for another reason:
    the last info would not say why), or from an edge that sends no info, ``fallback``
    (English) for both."""
    info = decode_info(info_metric)
    if info is not None and status == "online":
        return detail_text(info, "zh"), detail_text(info, "en")
    if info is not None and status == "offline" and diagnosis == "no_signal":
        return f"无信号: {detail_text(info, 'zh')}", f"no signal: {detail_text(info, 'en')}"
    return fallback, fallback
