"""Questioning rules: who must be in the room while a person in custody is questioned or
searched, and how long questioning may go on without a break.

Presence comes from the tag readers (the twin's zone occupancy), so a rule here can only be
as sure as the readers: an officer whose badge is not seen is not there.  The on-delays
absorb people stepping in and out of a door one after the other.
"""

from __future__ import annotations

from collections.abc import Iterator

from server.rules.context import RuleContext
from server.rules.params import (
    FemaleSearchParams,
    JuvenileGuardianParams,
    NoRestBreakParams,
    ParamSet,
    SingleOfficerParams,
)
from server.rules.spec import Condition, RuleSpec
from server.twin import PersonState


def single_officer_questioning(ctx: RuleContext, params: ParamSet[SingleOfficerParams],
                               now: float) -> Iterator[Condition]:
    """A person in custody in an interrogation room with exactly one officer or guard (with
    none it is unattended_person, not this)."""
    for zone in ctx.held():
        if len(zone.staff) != 1 or zone.kind not in params.for_kind(zone.kind).zone_kinds:
            continue
        zh, en = ctx.names(zone.id)
        officer = zone.staff[0].id
        for person in zone.custody:
            yield Condition(
                subject=person.id, zone=zone.id,
                message_zh=f"{zh}: 仅一名民警 ({officer}) 讯问 {person.id}",
                message_en=f"{en}: {person.id} questioned by a single officer ({officer})",
                details={"officer": officer},
            )


def female_search_without_female_officer(ctx: RuleContext, params: ParamSet[FemaleSearchParams],
                                         now: float) -> Iterator[Condition]:
    """A female person in custody in a body-check room with officers, none of them female.
    With no officer at all it is unattended_person (one alarm per cause)."""
    for zone in ctx.held():
        p = params.for_kind(zone.kind)
        if not zone.staff or zone.kind not in p.zone_kinds:
            continue
        if any(s.sex == "female" or (s.sex is None and p.unknown_sex_counts_as_female)
               for s in zone.staff):
            continue
        zh, en = ctx.names(zone.id)
        staff = [s.id for s in zone.staff]
        for person in zone.custody:
            if person.sex != "female":
                continue
            yield Condition(
                subject=person.id, zone=zone.id,
                message_zh=f"{zh}: 女性在押人员 {person.id} 在场, 无女性民警",
                message_en=f"{en}: female person in custody {person.id} without a female "
                           f"officer",
                details={"staff": staff},
            )


def juvenile_without_guardian(ctx: RuleContext, params: ParamSet[JuvenileGuardianParams],
                              now: float) -> Iterator[Condition]:
    """A juvenile in custody questioned (an officer present, in a questioning room) without
    a guardian or appropriate adult in the room."""
    for zone in ctx.held():
        p = params.for_kind(zone.kind)
        if not zone.staffed or zone.kind not in p.zone_kinds:
            continue
        if any(o.role in p.guardian_roles for o in zone.others):
            continue
        zh, en = ctx.names(zone.id)
        for person in zone.custody:
            if not person.is_juvenile:
                continue
            yield Condition(
                subject=person.id, zone=zone.id,
                message_zh=f"{zh}: 未成年人 {person.id} ({person.age} 岁) 接受询问, "
                           f"无监护人或合适成年人在场",
                message_en=f"{en}: juvenile {person.id} (age {person.age}) questioned without "
                           f"a guardian or appropriate adult",
                details={"age": person.age},
            )


class _SessionWalk:
    """The latest questioning session of a timeline, walked forward and kept between
    evaluations: a timeline only grows at its end, and only its last entry is ever changed
    (its ``until`` when the person moves on), so the closed entries are walked once."""

    __slots__ = ("brk", "custody_start", "done", "end", "kinds", "start", "timeline")

    def __init__(self, timeline: list[tuple[str, float, float | None]],
                 custody_start: float | None, brk: float, kinds: frozenset[str]) -> None:
        self.timeline, self.custody_start, self.brk, self.kinds = \
            timeline, custody_start, brk, kinds
        self.done = 0  # closed entries walked
        self.start: float | None = None  # where the latest run of questioning stays began
        self.end: float | None = None  # the until of its latest stay (None: still in it)

    def fits(self, timeline: list[tuple[str, float, float | None]],
             custody_start: float | None, brk: float, kinds: frozenset[str]) -> bool:
        return (timeline is self.timeline and custody_start == self.custody_start
                and brk == self.brk and kinds == self.kinds
                and self.done <= max(len(timeline) - 1, 0))

    def step(self, ctx: RuleContext, entry: tuple[str, float, float | None],
             start: float | None, end: float | None) -> tuple[float | None, float | None]:
        zone, since, until = entry
        if self.custody_start is not None and since <= self.custody_start:
            start = end = None  # nothing before this custody counts
        if ctx.kind(zone) in self.kinds:
            # A gap of a full break since the previous stay starts a new session.
            if start is None or (end is not None and since - end >= self.brk):
                start = since
            end = until
        return start, end

    def session(self, ctx: RuleContext) -> tuple[float, float | None] | None:
        """(start, end) of the latest run of questioning stays whose gaps are all shorter
        than the break; end None if the person is in it now."""
        timeline = self.timeline
        closed = len(timeline) - 1
        while self.done < closed:
            self.start, self.end = self.step(ctx, timeline[self.done], self.start, self.end)
            self.done += 1
        start, end = self.start, self.end
        if timeline:  # the last entry may still change: walked afresh every time
            start, end = self.step(ctx, timeline[-1], start, end)
        if start is None:
            return None
        if self.custody_start is not None:
            start = max(start, self.custody_start)
        return start, end


def questioning_session(ctx: RuleContext, person: PersonState, p: NoRestBreakParams,
                        now: float) -> tuple[float, float | None] | None:
    """The start of the person's current questioning session and, if they are out of the
    questioning rooms right now, since when.  A session is a run of stays in questioning
    rooms whose gaps are all shorter than ``break_s``; None when the time since the last
    stay is a completed break, or they were never questioned.  The walk of the timeline is
    kept in the engine's memo (_SessionWalk): a move costs one more entry, not the whole
    timeline again."""
    brk = p.break_s / ctx.speed
    key = ("session", person.id)
    walk: _SessionWalk | None = ctx.memo.get(key)
    if walk is None or not walk.fits(person.timeline, person.custody_start, brk, p.zone_kinds):
        walk = ctx.memo[key] = _SessionWalk(person.timeline, person.custody_start, brk,
                                            p.zone_kinds)
    session = walk.session(ctx)
    if session is None:
        return None
    start, end = session
    if end is not None and now - end >= brk:
        return None
    return start, end


def no_rest_break(ctx: RuleContext, params: ParamSet[NoRestBreakParams],
                  now: float) -> Iterator[Condition]:
    """Continuous questioning longer than ``span_s`` without a break of ``break_s``.  Holds
    from start + span until a break is complete (a short step outside does not end it)."""
    p = params.default
    for person in ctx.in_custody():
        session = questioning_session(ctx, person, p, now)
        if session is None:
            continue
        start, out_since = session
        due = start + ctx.real(p.span_s)
        if out_since is not None:
            ctx.wake_at(out_since + ctx.real(p.break_s))  # the break becomes complete
            if out_since < due:
                # Resting now, and questioned less than the span before the rest: nothing
                # is wrong yet.  Back before the break is complete, the session goes on
                # from its old start (a short rest does not reset the clock).
                continue
        if now < due:
            ctx.wake_at(due)
            continue
        hours = p.span_s / 3600
        zh, en = ctx.names(person.zone) if person.zone else ("—", "—")
        yield Condition(
            subject=person.id, zone=person.zone,
            message_zh=f"{zh}: {person.id} 连续讯问/询问超过 {hours:g} 小时未休息",
            message_en=f"{en}: {person.id} questioned for over {hours:g} h without a break",
            details={"session_start": start, "span_s": p.span_s, "break_s": p.break_s},
            since=due,
        )


SINGLE_OFFICER_QUESTIONING = RuleSpec(
    id="single_officer_questioning",
    severity="major",
    title_zh="单人讯问",
    title_en="Questioning by a single officer",
    basis_zh="刑事诉讼法 第一百一十八条: 讯问的时候, 侦查人员不得少于二人",
    basis_en="Criminal Procedure Law art. 118: no fewer than two investigators question a "
             "suspect",
    params=SingleOfficerParams,
    conditions=single_officer_questioning,
    reads=frozenset({"people"}),
    kinds_param="zone_kinds",
    needs_custody=True,
)

FEMALE_SEARCH_WITHOUT_FEMALE_OFFICER = RuleSpec(
    id="female_search_without_female_officer",
    severity="major",
    title_zh="女性人身检查无女性民警",
    title_en="Female searched without a female officer",
    basis_zh="刑事诉讼法 第一百三十二条: 检查妇女的身体, 应当由女工作人员或者医师进行",
    basis_en="Criminal Procedure Law art. 132: a woman's body is examined by a female "
             "officer or a doctor",
    params=FemaleSearchParams,
    conditions=female_search_without_female_officer,
    reads=frozenset({"people"}),
    kinds_param="zone_kinds",
    needs_custody=True,
)

JUVENILE_WITHOUT_GUARDIAN = RuleSpec(
    id="juvenile_without_guardian",
    severity="major",
    title_zh="未成年人询问无监护人在场",
    title_en="Juvenile questioned without a guardian",
    basis_zh="刑事诉讼法 第二百八十一条; 治安管理处罚法: 询问未成年人应当通知其父母或者其他"
             "监护人到场",
    basis_en="Criminal Procedure Law art. 281; Public Security Administration Punishments "
             "Law: a guardian or appropriate adult attends the questioning of a juvenile",
    params=JuvenileGuardianParams,
    conditions=juvenile_without_guardian,
    reads=frozenset({"people"}),
    kinds_param="zone_kinds",
    needs_custody=True,
)

NO_REST_BREAK = RuleSpec(
    id="no_rest_break",
    severity="minor",
    title_zh="连续讯问未保证休息",
    title_en="No rest break",
    basis_zh="刑事诉讼法 第一百一十九条: 应当保证犯罪嫌疑人的饮食和必要的休息时间",
    basis_en="Criminal Procedure Law art. 119: food and necessary rest must be guaranteed",
    params=NoRestBreakParams,
    conditions=no_rest_break,
    scope="person",
    needs_custody=True,
)
