"""Holding-room rules: who may share a room, and how many.

Persons in custody of the same case are kept apart (防串供: no colluding on statements),
as are men and women and adults and juveniles (看守所条例 art. 14 by analogy: separate
custody).  The subject is the room: the fix is to move someone out of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations

from server.rules.context import RuleContext
from server.rules.params import ParamSet, SeparationParams, ZoneOverCapacityParams
from server.rules.spec import Condition, RuleSpec
from server.twin import PersonState

_REASONS = {
    "same_case": ("同案人员同室", "same case"),
    "mixed_sex": ("男女同室", "mixed sex"),
    "adult_with_juvenile": ("成年人与未成年人同室", "adult with juvenile"),
}


def _pair_reasons(a: PersonState, b: PersonState, p: SeparationParams) -> list[str]:
    """Why two persons in custody may not share a room.  Unknown facts (no case, sex or age
    recorded) are not a reason: intake records them."""
    reasons = []
    if p.same_case and a.case is not None and a.case == b.case:
        reasons.append("same_case")
    if p.mixed_sex and a.sex is not None and b.sex is not None and a.sex != b.sex:
        reasons.append("mixed_sex")
    if p.adult_with_juvenile and a.age is not None and b.age is not None \
            and a.is_juvenile != b.is_juvenile:
        reasons.append("adult_with_juvenile")
    return reasons


def separation_violation(ctx: RuleContext, params: ParamSet[SeparationParams],
                         now: float) -> Iterator[Condition]:
    for zone in ctx.held():
        p = params.for_kind(zone.kind)
        if len(zone.custody) < 2 or zone.kind not in p.zone_kinds:
            continue
        reasons: set[str] = set()
        pairs: list[list[str]] = []
        for a, b in combinations(zone.custody, 2):
            why = _pair_reasons(a, b, p)
            if why:
                reasons.update(why)
                pairs.append([a.id, b.id, *why])
        if not reasons:
            continue
        ordered = [r for r in _REASONS if r in reasons]
        zh, en = ctx.names(zone.id)
        who = ", ".join(zone.custody_ids)
        yield Condition(
            subject=zone.id, zone=zone.id,
            message_zh=f"{zh}: 违反分押规定 ({'、'.join(_REASONS[r][0] for r in ordered)}): {who}",
            message_en=f"{en}: separation violated ({', '.join(_REASONS[r][1] for r in ordered)})"
                       f": {who}",
            details={"reasons": ordered, "pairs": pairs, "people": zone.custody_ids},
        )


def zone_over_capacity(ctx: RuleContext, params: ParamSet[ZoneOverCapacityParams],
                       now: float) -> Iterator[Condition]:
    capacity = ctx.site.capacity
    for zone in ctx.held():
        cap = capacity.get(zone.id)
        if cap is None or len(zone.custody) <= cap:
            continue
        zh, en = ctx.names(zone.id)
        n = len(zone.custody)
        yield Condition(
            subject=zone.id, zone=zone.id,
            message_zh=f"{zh}: 在押人员 {n} 人, 超过容量 {cap} 人",
            message_en=f"{en}: {n} persons in custody, capacity {cap}",
            details={"count": n, "capacity": cap, "people": zone.custody_ids},
        )


SEPARATION_VIOLATION = RuleSpec(
    id="separation_violation",
    severity="major",
    title_zh="违反分别看管",
    title_en="Separation violated",
    basis_zh="同案人员分别看管, 防止串供; 男女分押、成年人与未成年人分押 (参照看守所条例 第十四条)",
    basis_en="Co-accused kept apart against collusion; men and women, adults and juveniles "
             "held separately (by analogy with the Detention House Regulations art. 14)",
    params=SeparationParams,
    conditions=separation_violation,
    reads=frozenset({"custody"}),
    kinds_param="zone_kinds",
    needs_custody=True,
)

ZONE_OVER_CAPACITY = RuleSpec(
    id="zone_over_capacity",
    severity="major",
    title_zh="超员",
    title_en="Room over capacity",
    basis_zh="办案区功能室按设计容量使用",
    basis_en="Rooms of the case-handling area used within their design capacity",
    params=ZoneOverCapacityParams,
    conditions=zone_over_capacity,
    reads=frozenset({"custody"}),
    needs_custody=True,
    applies=lambda zone: zone.config.capacity is not None,  # a room declaring a capacity
)
