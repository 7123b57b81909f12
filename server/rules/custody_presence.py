"""Custody presence rules: who is with a person in custody, and where they may be.

Both come from the "four always" (四个一律) of the case-handling area regulations: a person
brought into the area is always searched first (一律先进行人身安全检查) and always guarded
(一律有人负责看管).
"""

from __future__ import annotations

from collections.abc import Iterator

from server.rules.context import RuleContext
from server.rules.params import ParamSet, SearchSkippedParams, UnattendedPersonParams
from server.rules.spec import Condition, RuleSpec
from server.twin import PersonState


def unattended_person(ctx: RuleContext, params: ParamSet[UnattendedPersonParams],
                      now: float) -> Iterator[Condition]:
    """A person in custody in a zone with no officer or guard present."""
    for zone in ctx.held():
        if zone.staffed:
            continue
        zh, en = ctx.names(zone.id)
        for person in zone.custody:
            yield Condition(
                subject=person.id, zone=zone.id,
                message_zh=f"{zh}: 在押人员 {person.id} 无民警看管",
                message_en=f"{en}: person in custody {person.id} unattended",
            )


def last_seen(person: PersonState) -> str | None:
    """The zone the person is in or, between two readers (in no zone), the zone they were
    last seen in during this custody; None if never seen in it."""
    if person.zone is not None:
        return person.zone
    if not person.timeline:
        return None
    zone, _since, until = person.timeline[-1]
    if until is not None and person.custody_start is not None and until < person.custody_start:
        return None  # seen in an earlier custody only
    return zone


def search_skipped(ctx: RuleContext, params: ParamSet[SearchSkippedParams],
                   now: float) -> Iterator[Condition]:
    """A person in custody, not yet searched, anywhere but the entrance and body check.

    Where they are is where they were last seen: walking between two readers (in no zone
    for a moment) is still beyond the body check, so one violation stays one alarm from
    the first room past the body check until the search is recorded or the person is back
    at the entrance or a body check."""
    for person in ctx.in_custody():
        if person.searched:
            continue
        zone = last_seen(person)
        kind = ctx.kind(zone)
        if zone is None or kind in params.for_kind(kind).allowed_kinds:
            continue
        zh, en = ctx.names(zone)
        yield Condition(
            subject=person.id, zone=zone,
            message_zh=f"{zh}: 在押人员 {person.id} 未经人身安全检查",
            message_en=f"{en}: person in custody {person.id} not searched",
        )


UNATTENDED_PERSON = RuleSpec(
    id="unattended_person",
    severity="critical",
    title_zh="在押人员无人看管",
    title_en="Person in custody unattended",
    basis_zh="四个一律: 一律有人负责看管",
    basis_en="Four always: a person in custody is always guarded",
    params=UnattendedPersonParams,
    conditions=unattended_person,
    reads=frozenset({"people"}),
    needs_custody=True,
    hold_in_transit=True,  # walking alone between two rooms: the same alarm
)

SEARCH_SKIPPED = RuleSpec(
    id="search_skipped",
    severity="major",
    title_zh="未经人身安全检查",
    title_en="Body check skipped",
    basis_zh="四个一律: 一律先进行人身安全检查",
    basis_en="Four always: a person is always searched before entering the area",
    params=SearchSkippedParams,
    conditions=search_skipped,
    scope="person",  # where the person is, or was last seen (between two readers)
    needs_custody=True,
    applies=lambda person: not person.searched,
)
