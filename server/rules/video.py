"""Video rules: a room holding a person in custody is always watched by a working camera.

Basis: the "four always" (四个一律) of the case-handling area: 一律有视频监控并记录 (always
under video surveillance, and recorded).  A camera we cannot see, or whose picture cannot
show the room, is a violation (DESIGN.md: never a false "all clear"):

* the camera's device state is offline, stale or never reported (its node lost it, or the
  server heard nothing for 2.5 heartbeats);
* the edge's picture diagnosis (edge/video/diagnostics.py, debounced there) is one of
  ``diagnoses``: no signal, stale picture, black, dark, frozen, occluded, blurred.  A colour
  cast is reported on the device but is not a fault by default: the room is still seen.

The diagnosis and its measures go into the alarm message, each language rendered from the
edge's info ("画面冻结 (12 秒画面无变化)"); a lost camera's from its DeviceLost's info
("离线 (无信号: 连接被拒绝)"); from an edge without info, the English detail or lost reason.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from protocol.camera import fault_detail
from server.rules.context import RuleContext
from server.rules.params import MAX_GRACE_S, ParamSet, RuleParams
from server.rules.spec import Condition, RuleSpec

CAMERA_PROFILE = "camera"

# Diagnosis -> (zh, en) for the alarm message.
DIAGNOSIS_TEXT: dict[str, tuple[str, str]] = {
    "no_signal": ("无信号", "no signal"),
    "stale": ("画面停止更新", "picture stale"),
    "black": ("黑屏", "picture black"),
    "dark": ("画面过暗", "picture too dark"),
    "frozen": ("画面冻结", "picture frozen"),
    "occluded": ("镜头遮挡", "lens occluded"),
    "blurred": ("画面模糊", "picture blurred"),
    "colour_cast": ("画面偏色", "colour cast"),
}
STATUS_TEXT: dict[str, tuple[str, str]] = {
    "offline": ("离线", "offline"),
    "stale": ("心跳超时", "silent (stale)"),
    "unknown": ("状态未知", "state unknown"),
}


class CameraFaultParams(RuleParams):
    grace_s: float = Field(default=0.0, ge=0, le=MAX_GRACE_S,
                           description="the edge already debounces its diagnosis")
    diagnoses: frozenset[str] = Field(
        default=frozenset({"no_signal", "stale", "black", "dark", "frozen", "occluded",
                           "blurred"}),
        description="picture diagnoses that are a camera fault")
    unknown_grace_s: float = Field(
        default=60.0, ge=0, le=MAX_GRACE_S,
        description="a camera never reported since start-up (device_offline covers it too)")


def camera_fault(ctx: RuleContext, params: ParamSet[CameraFaultParams],
                 now: float) -> Iterator[Condition]:
    """A zone holding a person in custody whose camera is offline, stale or whose picture
    fails its diagnostics."""
    for zone in ctx.held():
        p = params.for_kind(zone.kind)
        cameras = ctx.zone_devices(zone.id, CAMERA_PROFILE)
        if not cameras:
            continue  # a room without a camera is a site design matter, not a fault
        who: str | None = None  # worked out for a faulty camera only: most are fine
        for camera in cameras:
            diagnosis = camera.metrics.get("diagnosis")
            detail = str(camera.metrics.get("diagnosis_detail") or "")
            grace: float | None = None
            reason: str
            if camera.status != "online":
                reason = camera.status
                text_zh, text_en = STATUS_TEXT.get(camera.status, (camera.status, camera.status))
                if camera.lost_reason:
                    detail = camera.lost_reason
                if camera.status == "unknown":
                    grace = p.unknown_grace_s
            elif isinstance(diagnosis, str) and diagnosis in p.diagnoses:
                reason = diagnosis
                text_zh, text_en = DIAGNOSIS_TEXT.get(diagnosis, (diagnosis, diagnosis))
            else:
                continue
            # Why in each language: the DeviceLost's info of a lost camera, else the edge's
            # diagnosis info (protocol/camera.py), else the English detail / lost reason.
            detail_zh, detail_en = fault_detail(camera.status, diagnosis,
                                                camera.metrics.get("diagnosis_info"), detail,
                                                camera.lost_info)
            suffix_zh = f" ({detail_zh})" if detail_zh else ""
            suffix_en = f" ({detail_en})" if detail_en else ""
            if who is None:
                who = ", ".join(zone.custody_ids)
            zh, en = ctx.names(zone.id)
            yield Condition(
                subject=camera.id, zone=zone.id,
                message_zh=f"{zh}: 摄像机 {camera.id} {text_zh}{suffix_zh}, 在押人员 {who} 在场",
                message_en=f"{en}: camera {camera.id} {text_en}{suffix_en}, person in custody "
                           f"{who} present",
                details={"reason": reason, "diagnosis": diagnosis, "detail": detail,
                         "status": camera.status, "people": zone.custody_ids},
                grace_s=grace,
            )


CAMERA_FAULT = RuleSpec(
    id="camera_fault",
    severity="critical",
    title_zh="视频监控故障",
    title_en="Camera fault",
    basis_zh="四个一律: 一律有视频监控并记录",
    basis_en="Four always: always under video surveillance, and recorded",
    params=CameraFaultParams,
    conditions=camera_fault,
    reads=frozenset({"custody", "devices"}),
    reads_profiles=frozenset({CAMERA_PROFILE}),
    needs_custody=True,
    profiles=frozenset({CAMERA_PROFILE}),
)
