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
  or English, so a Chinese alarm message is Chinese throughout.  The table of texts and the
  renderer live in protocol/reasons.py, shared with the info of a DeviceLost.
* An edge config may override any threshold per camera (edge/config.py ``thresholds:``):
  :meth:`DiagnosticThresholds.override_errors` checks such a partial mapping key by key
  with the model's own field constraints; the model itself checks the orderings once the
  overrides are merged into the profile's thresholds.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Annotated, Any

from pydantic import (
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from protocol.config import StrictModel
from protocol.reasons import Info, decode_info, detail_text, lost_detail


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

    @classmethod
    def override_errors(cls, values: Mapping[str, object],
                        ) -> tuple[dict[str, float], list[InitErrorDetails]]:
        """One camera's overrides (a partial mapping), each key checked on its own against
        its field: an unknown name, a wrong type, a value out of range.  Returns the good
        values and an error detail per bad key, located at the key: raised as a
        ValidationError from a config model's validator (edge/config.py), pydantic reports
        each as ``…thresholds.<key>`` at the key's line.  The orderings between fields need
        the whole set: the caller checks the overrides merged into the profile's."""
        errors: list[InitErrorDetails] = []
        checked: dict[str, float] = {}
        for key, value in values.items():
            if key not in cls.model_fields:
                errors.append({"type": PydanticCustomError(
                    "unknown_threshold", "no such threshold; known: {known}",
                    {"known": ", ".join(cls.model_fields)}), "loc": (key,), "input": value})
                continue
            try:
                checked[key] = _field_adapter(key).validate_python(value)
            except ValidationError as err:
                for e in err.errors():
                    detail: InitErrorDetails = {"type": e["type"], "loc": (key, *e["loc"]),
                                                "input": e["input"]}
                    if "ctx" in e:
                        detail["ctx"] = e["ctx"]
                    errors.append(detail)
        return checked, errors


@cache
def _field_adapter(name: str) -> TypeAdapter[Any]:
    """A validator of one DiagnosticThresholds field alone: its type and constraints (and
    the model's no-NaN rule), without the validators that compare it with other fields."""
    field = DiagnosticThresholds.model_fields[name]
    annotated: Any = Annotated[(field.annotation, *field.metadata)]
    return TypeAdapter(annotated, config=ConfigDict(allow_inf_nan=False))


# ---------------------------------------------------------------------- diagnosis info
# The table of texts and its renderer are protocol/reasons.py's, shared with DeviceLost's
# info.


def fault_detail(status: str, diagnosis: object, info_metric: object, fallback: str,
                 lost_info: Info | None = None) -> tuple[str, str]:
    """(zh, en) detail of a camera fault for an alarm message.

    An offline camera whose DeviceLost carried an info (``lost_info``, already checked by
    protocol.reasons.decode_lost_info) is worded from it.  Otherwise the diagnosis info is
    the camera's current "why" while it is online, and still while it is offline for no
    signal (an older driver reports that diagnosis just before the camera is declared lost,
    so the loss is worded as its DeviceLost reason was).  Otherwise (offline or silent for
    another reason: the last info would not say why), or from an edge that sends no info,
    ``fallback`` (English) for both."""
    if status == "offline" and lost_info is not None:
        return lost_detail(lost_info, fallback)
    info = decode_info(info_metric)
    if info is not None and status == "online":
        return detail_text(info, "zh"), detail_text(info, "en")
    if info is not None and status == "offline" and diagnosis == "no_signal":
        return f"无信号: {detail_text(info, 'zh')}", f"no signal: {detail_text(info, 'en')}"
    return fallback, fallback
