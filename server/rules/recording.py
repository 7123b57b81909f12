"""Recording rules: questioning of a person in custody is recorded, whole process.

Basis: 公安机关讯问犯罪嫌疑人录音录像工作规定 art. 3 (audio-video recording of the whole
process, without interruption).  A recorder we cannot see is not assumed to be recording:
offline, stale or unknown is itself the violation (DESIGN.md: never a false "all clear").
A recorder its node declared lost says why, in each language (its DeviceLost's info).
"""

from __future__ import annotations

from collections.abc import Iterator

from protocol.reasons import lost_detail
from server.rules.context import RECORDER_PROFILE, HeldZone, RuleContext
from server.rules.params import ParamSet, RecordingParams
from server.rules.spec import Condition, RuleSpec
from server.rules.video import STATUS_TEXT
from server.twin import DeviceState

# "Recording" that is not really progressing: bytes_written flat for the recorder
# profile's progress_window_s (site s), but never less than 2.5 of the recorder's reports
# (bytes_written is in every full report, so a flat value is then really flat).
PROGRESS_MIN_REPORTS = 2.5
DEFAULT_PROGRESS_WINDOW_S = 15.0
# A recorder is polled (edge/drivers/recorder.py: at most every 0.2 s real), so a change
# of its state reaches us up to a poll period plus transit later: at high --speed the
# grace must not be shorter than that, or a recorder switched on just in time would read
# as not recording.
RECORDER_LATENCY_REAL_S = 0.6


def recording_not_running(ctx: RuleContext, params: ParamSet[RecordingParams],
                          now: float) -> Iterator[Condition]:
    """An interview room holds a person in custody and its recorder is not recording."""
    for zone in ctx.held():
        if zone.kind not in params.for_kind(zone.kind).zone_kinds:
            continue
        recorder = ctx.recorder(zone.id)
        if recorder is not None and recorder.status == "online" \
                and recorder.metrics.get("recording") is True:
            # Recording (the usual case): only whether it makes progress.
            yield from _not_progressing(ctx, recorder, zone, now)
            continue
        held = zone.custody_ids
        zh, en = ctx.names(zone.id)
        who = ", ".join(held)
        if recorder is None:
            yield Condition(
                subject=zone.id, zone=zone.id,
                message_zh=f"{zh}: 在押人员 {who} 在场, 无审讯录音录像设备",
                message_en=f"{en}: person in custody {who} present, no recorder in the room",
                details={"reason": "no_recorder", "people": held},
            )
        elif recorder.status != "online":
            status_zh = STATUS_TEXT.get(recorder.status, (recorder.status,))[0]
            why_zh, why_en = ("", "")
            details: dict[str, object] = {"reason": "recorder_offline",
                                          "status": recorder.status, "people": held}
            if recorder.status == "offline" and (recorder.lost_reason or recorder.lost_info):
                # Why its node lost it, in each language (protocol/reasons.py).
                lost_zh, lost_en = lost_detail(recorder.lost_info, recorder.lost_reason)
                why_zh, why_en = f": {lost_zh}", f": {lost_en}"
                details.update(lost_reason=recorder.lost_reason, lost_info=recorder.lost_info)
            yield Condition(
                subject=recorder.id, zone=zone.id,
                message_zh=f"{zh}: 审讯主机 {recorder.id} 离线或状态未知 ({status_zh}{why_zh}), "
                           f"在押人员 {who} 在场",
                message_en=f"{en}: recorder {recorder.id} offline ({recorder.status}{why_en}), "
                           f"person in custody {who} present",
                details=details,
                min_real_s=RECORDER_LATENCY_REAL_S,
            )
        else:
            yield Condition(
                subject=recorder.id, zone=zone.id,
                message_zh=f"{zh}: 在押人员 {who} 在场, 审讯主机 {recorder.id} 未在录像",
                message_en=f"{en}: person in custody {who} present, recorder {recorder.id} "
                           f"not recording",
                details={"reason": "not_recording", "people": held},
                min_real_s=RECORDER_LATENCY_REAL_S,
            )


def _not_progressing(ctx: RuleContext, recorder: DeviceState, zone: HeldZone,
                     now: float) -> Iterator[Condition]:
    """The recorder says it records, but its segment has not grown for the window.

    The engine's memo remembers, per recorder, the last (recording, segment, bytes) seen
    and since when; any change restarts the window.  A recorder that does not report
    ``bytes_written`` at all cannot be judged on progress (only on ``recording``)."""
    m = recorder.metrics
    written = m.get("bytes_written")
    if not isinstance(written, int) or isinstance(written, bool):
        return
    seen = (m.get("recording"), m.get("segment"), written)
    key = ("recording_progress", recorder.id)
    last = ctx.memo.get(key)
    if last is None or last[0] != seen:
        last = ctx.memo[key] = (seen, now)
    flat_since = last[1]
    window_s = ctx.threshold(recorder, "progress_window_s") or DEFAULT_PROGRESS_WINDOW_S
    window = max(ctx.real(window_s), PROGRESS_MIN_REPORTS * recorder.heartbeat_s)
    if now - flat_since < window:
        ctx.wake_at(flat_since + window)
        return
    zone_id, held = zone.id, zone.custody_ids
    who = ", ".join(held)
    zh, en = ctx.names(zone_id)
    segment = m.get("segment") or "?"
    ctx.volatile()  # "not grown for N s" counts up: re-run on every evaluation
    flat_for = now - flat_since
    yield Condition(
        subject=recorder.id, zone=zone_id,
        message_zh=f"{zh}: 审讯主机 {recorder.id} 显示在录像, 但录像文件 {segment} "
                   f"{flat_for:.0f} 秒未增长 (已写 {written} 字节), 在押人员 {who} 在场",
        message_en=f"{en}: recorder {recorder.id} says recording but segment {segment} has "
                   f"not grown for {flat_for:.0f}s ({written} bytes written), person in "
                   f"custody {who} present",
        details={"reason": "not_progressing", "segment": segment, "bytes_written": written,
                 "flat_since": flat_since, "people": held},
        since=flat_since, grace_s=0.0,
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
    reads=frozenset({"custody", "devices"}),
    reads_profiles=frozenset({RECORDER_PROFILE}),  # ctx.recorder: the zone's recorder only
    kinds_param="zone_kinds",
    needs_custody=True,
)
