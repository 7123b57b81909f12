"""Recording rules: questioning of a person in custody is recorded, whole process.

Basis: 公安机关讯问犯罪嫌疑人录音录像工作规定 art. 3 (audio-video recording of the whole
process, without interruption).  A recorder we cannot see is not assumed to be recording:
offline, stale or unknown is itself the violation (DESIGN.md: never a false "all clear").
"""

from __future__ import annotations

from collections.abc import Iterator

from server.rules.context import RuleContext
from server.rules.params import ParamSet, RecordingParams
from server.rules.spec import Condition, RuleSpec

# Not yet: "recording is not really progressing" (bytes_written flat over the profile's
# progress_window_s) needs a metric history the twin does not keep; it will be a condition
# of this rule with reason "not_progressing".


def recording_not_running(ctx: RuleContext, params: ParamSet[RecordingParams],
                          now: float) -> Iterator[Condition]:
    """An interview room holds a person in custody and its recorder is not recording."""
    for zone in ctx.held():
        if zone.kind not in params.for_kind(zone.kind).zone_kinds:
            continue
        held = zone.custody_ids
        zh, en = ctx.names(zone.id)
        recorder = ctx.recorder(zone.id)
        who = ", ".join(held)
        if recorder is None:
            yield Condition(
                subject=zone.id, zone=zone.id,
                message_zh=f"{zh}: 在押人员 {who} 在场, 无审讯录音录像设备",
                message_en=f"{en}: person in custody {who} present, no recorder in the room",
                details={"reason": "no_recorder", "people": held},
            )
        elif recorder.status != "online":
            yield Condition(
                subject=recorder.id, zone=zone.id,
                message_zh=f"{zh}: 审讯主机 {recorder.id} 离线或状态未知 ({recorder.status}), "
                           f"在押人员 {who} 在场",
                message_en=f"{en}: recorder {recorder.id} offline ({recorder.status}), "
                           f"person in custody {who} present",
                details={"reason": "recorder_offline", "status": recorder.status,
                         "people": held},
            )
        elif recorder.metrics.get("recording") is not True:
            yield Condition(
                subject=recorder.id, zone=zone.id,
                message_zh=f"{zh}: 在押人员 {who} 在场, 审讯主机 {recorder.id} 未在录像",
                message_en=f"{en}: person in custody {who} present, recorder {recorder.id} "
                           f"not recording",
                details={"reason": "not_recording", "people": held},
            )


RECORDING_NOT_RUNNING = RuleSpec(
    id="recording_not_running",
    severity="critical",
    title_zh="审讯未录音录像",
    title_en="Questioning not recorded",
    basis_zh="公安机关讯问犯罪嫌疑人录音录像工作规定 第三条: 全程录音录像, 不得中断",
    basis_en="Regulation on audio-video recording of interrogations, art. 3: "
             "the whole process, without interruption",
    params=RecordingParams,
    conditions=recording_not_running,
)
