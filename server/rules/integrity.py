"""Evidence integrity rules: wristbands (cut, battery) and node clocks.

A wristband tamper is latched: the twin sets PersonState.tag_tampered on the reader's
``tag_tamper`` event, and the alarm stays active until an operator has checked the band
(Twin.clear_tag_alerts) or a new intake replaces the person's record (a new wristband), or
the person is released (the band comes off legitimately).  A low battery works the same
way, for wristbands and staff badges alike: a dead badge makes its officer invisible to the
presence rules.

Clock skew compares a node message's ``ts`` with the server's receive time (the twin keeps
the latest live difference per node, NodeState.clock_skew_s).  The tolerance is in *real*
seconds; the on-delay keeps one late message (broker backlog) from raising it.
"""

from __future__ import annotations

from collections.abc import Iterator

from server.rules.context import RuleContext
from server.rules.params import ClockSkewParams, ParamSet, PlainParams
from server.rules.spec import Condition, RuleSpec


def tag_tamper(ctx: RuleContext, params: ParamSet[PlainParams],
               now: float) -> Iterator[Condition]:
    for person in ctx.in_custody():
        if not person.tag_tampered:
            continue
        zone = person.tag_tamper_zone or person.zone
        zh, en = ctx.names(zone) if zone else ("—", "—")
        yield Condition(
            subject=person.id, zone=zone,
            message_zh=f"{zh}: {person.id} 的腕带 {person.tag} 被剪断或摘除",
            message_en=f"{en}: wristband {person.tag} of {person.id} cut or removed",
            details={"tag": person.tag},
            since=person.tag_tampered_at,
        )


def tag_low_battery(ctx: RuleContext, params: ParamSet[PlainParams],
                    now: float) -> Iterator[Condition]:
    for person in ctx.people():
        if not person.tag_battery_low or not (person.in_custody or person.is_staff):
            continue
        zh, en = ctx.names(person.zone) if person.zone else ("—", "—")
        level = "" if person.tag_battery_level is None else f" ({person.tag_battery_level:g})"
        kind_zh, kind_en = ("胸卡", "badge") if person.is_staff else ("腕带", "wristband")
        yield Condition(
            subject=person.id, zone=person.zone,
            message_zh=f"{zh}: {person.id} 的{kind_zh} {person.tag} 电量低{level}",
            message_en=f"{en}: {kind_en} {person.tag} of {person.id} battery low{level}",
            details={"tag": person.tag, "level": person.tag_battery_level},
            since=person.tag_battery_low_at,
        )


def clock_skew(ctx: RuleContext, params: ParamSet[ClockSkewParams],
               now: float) -> Iterator[Condition]:
    tolerance = params.default.tolerance_s
    for node in ctx.nodes():
        skew = node.clock_skew_s
        if not node.online or skew is None or abs(skew) <= tolerance:
            continue
        direction_zh, direction_en = ("快", "ahead") if skew > 0 else ("慢", "behind")
        yield Condition(
            subject=node.id, zone=None,
            message_zh=f"边缘节点 {node.id} 时钟{direction_zh} {abs(skew):.1f} 秒 "
                       f"(容差 {tolerance:g} 秒)",
            message_en=f"node {node.id} clock {abs(skew):.1f} s {direction_en} "
                       f"(tolerance {tolerance:g} s)",
            details={"skew_s": round(skew, 3), "tolerance_s": tolerance},
        )


TAG_TAMPER = RuleSpec(
    id="tag_tamper",
    severity="critical",
    title_zh="腕带被破坏",
    title_en="Wristband tampered",
    basis_zh="证据完整性: 定位腕带被剪断或摘除",
    basis_en="Evidence integrity: a location wristband cut or removed",
    params=PlainParams,
    conditions=tag_tamper,
    scope="person",
    needs_custody=True,
    applies=lambda person: person.tag_tampered,
)

TAG_LOW_BATTERY = RuleSpec(
    id="tag_low_battery",
    severity="warning",
    title_zh="定位标签电量低",
    title_en="Tag battery low",
    basis_zh="证据完整性: 定位标签电量不足将导致位置丢失",
    basis_en="Evidence integrity: a flat tag loses the person's location",
    params=PlainParams,
    conditions=tag_low_battery,
    scope="person",
    applies=lambda person: person.tag_battery_low,
)

CLOCK_SKEW = RuleSpec(
    id="clock_skew",
    severity="minor",
    title_zh="节点时钟偏差",
    title_en="Node clock skew",
    basis_zh="证据完整性: 事件时间戳以节点时钟为准, 偏差须在容差内",
    basis_en="Evidence integrity: event timestamps come from node clocks, which must agree "
             "with the server's",
    params=ClockSkewParams,
    conditions=clock_skew,
    scope="node",
)
