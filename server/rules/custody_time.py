"""Custody clock rules: the time since custody started against the limit of its legal basis.

These are time-driven: nothing arrives when a limit passes, so each rule tells the engine
(RuleContext.wake_at) the exact instant its answer changes, and the violation's ``since``
is that instant, not the moment the engine happened to look.

Limits live in custody_time_exceeded's ``limits_s`` (one table; the warning reads it too).
A person whose basis is missing or not in the table gets the shortest limit: the clock
never silently stops.  Limits are site seconds (``--speed`` shortens them).
"""

from __future__ import annotations

from collections.abc import Iterator

from server.rules.context import RuleContext
from server.rules.params import (
    CustodyTimeExceededParams,
    CustodyTimeWarningParams,
    ParamSet,
)
from server.rules.spec import Condition, RuleSpec
from server.twin import PersonState

BASIS_NAMES: dict[str, tuple[str, str]] = {
    "criminal_summons": ("传唤/拘传", "criminal summons"),
    "criminal_summons_extended": ("传唤/拘传 (延长)", "criminal summons (extended)"),
    "administrative_questioning": ("治安传唤询问查证", "administrative questioning"),
    "administrative_questioning_extended": ("治安传唤询问查证 (延长)",
                                            "administrative questioning (extended)"),
    "continued_questioning": ("继续盘问", "continued questioning"),
    "continued_questioning_extended": ("继续盘问 (延长)", "continued questioning (extended)"),
}


def custody_limit(person: PersonState, limits: dict[str, float]) -> tuple[str, float, bool]:
    """(basis, limit in site seconds, basis known) for a person in custody."""
    basis = person.custody_basis
    if basis is not None and basis in limits:
        return basis, limits[basis], True
    shortest = min(limits, key=lambda b: limits[b])
    return shortest, limits[shortest], False


def _limits(ctx: RuleContext) -> dict[str, float]:
    exceeded = ctx.params.get("custody_time_exceeded")
    model = exceeded.default if exceeded is not None else CustodyTimeExceededParams()
    return model.limits_s


def _hm(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


def _basis_label(basis: str, known: bool) -> tuple[str, str]:
    zh, en = BASIS_NAMES.get(basis, (basis, basis.replace("_", " ")))
    if not known:
        return f"依据未知, 按{zh}", f"basis unknown, taken as {en}"
    return zh, en


def custody_time_warning(ctx: RuleContext, params: ParamSet[CustodyTimeWarningParams],
                         now: float) -> Iterator[Condition]:
    """From limit - lead_s until the limit (then custody_time_exceeded takes over)."""
    limits = _limits(ctx)
    lead = params.default.lead_s
    for person in ctx.in_custody():
        if person.custody_start is None:
            continue
        basis, limit, known = custody_limit(person, limits)
        warn_at = person.custody_start + ctx.real(max(limit - lead, 0.0))
        end = person.custody_start + ctx.real(limit)
        if now < warn_at:
            ctx.wake_at(warn_at)
            continue
        if now >= end:
            continue
        ctx.wake_at(end)
        ctx.volatile()  # the time left in the message counts down
        zh, en = _basis_label(basis, known)
        left = _hm((end - now) * ctx.speed)
        yield Condition(
            subject=person.id, zone=person.zone,
            message_zh=f"{person.id} 羁押时限即将届满 ({zh} {limit / 3600:g} 小时, "
                       f"剩余约 {left})",
            message_en=f"{person.id}: custody limit approaching ({en} {limit / 3600:g} h, "
                       f"about {left} left)",
            details={"basis": basis, "basis_known": known, "limit_s": limit,
                     "deadline": end},
            since=warn_at,
        )


def custody_time_exceeded(ctx: RuleContext, params: ParamSet[CustodyTimeExceededParams],
                          now: float) -> Iterator[Condition]:
    """Custody lasted longer than the limit of its legal basis and the person is still held."""
    limits = params.default.limits_s
    for person in ctx.in_custody():
        if person.custody_start is None:
            continue
        basis, limit, known = custody_limit(person, limits)
        end = person.custody_start + ctx.real(limit)
        if now < end:
            ctx.wake_at(end)
            continue
        zh, en = _basis_label(basis, known)
        yield Condition(
            subject=person.id, zone=person.zone,
            message_zh=f"{person.id} 羁押已超过时限 ({zh} {limit / 3600:g} 小时)",
            message_en=f"{person.id}: custody limit exceeded ({en} {limit / 3600:g} h)",
            details={"basis": basis, "basis_known": known, "limit_s": limit,
                     "deadline": end},
            since=end,
        )


CUSTODY_TIME_WARNING = RuleSpec(
    id="custody_time_warning",
    severity="warning",
    title_zh="羁押时限临近",
    title_en="Custody limit approaching",
    basis_zh="刑事诉讼法 第一百一十九条; 治安管理处罚法 (询问查证时限); 人民警察法 第九条",
    basis_en="Criminal Procedure Law art. 119; Public Security Administration Punishments "
             "Law (questioning time limits); People's Police Law art. 9",
    params=CustodyTimeWarningParams,
    conditions=custody_time_warning,
    scope="person",
    needs_custody=True,
)

CUSTODY_TIME_EXCEEDED = RuleSpec(
    id="custody_time_exceeded",
    severity="critical",
    title_zh="超时羁押",
    title_en="Custody limit exceeded",
    basis_zh="刑事诉讼法 第一百一十九条: 不得以连续传唤、拘传的形式变相拘禁; 治安管理处罚法; "
             "人民警察法 第九条",
    basis_en="Criminal Procedure Law art. 119 (no detention in disguise by successive "
             "summonses); Public Security Administration Punishments Law; People's Police "
             "Law art. 9",
    params=CustodyTimeExceededParams,
    conditions=custody_time_exceeded,
    scope="person",
    needs_custody=True,
)
