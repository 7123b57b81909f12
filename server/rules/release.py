"""Leaving the area: a person in custody seen leaving without a release, and a released
person who left belongings behind.

unauthorized_exit, precisely: a person in custody (not released) whose *last known* zone
(where they are, or where their wristband was last seen) is
  * a zone of kind ``exit_kinds`` (default: exit), or
  * a zone of kind ``entrance_kinds`` (default: entrance) after having been in any other
    zone since custody started (coming back out through the sally port),
and who has no approved outing running (PersonState.outing_until in the future).  Using the
last known zone keeps the alarm up when the reader stops seeing them outside; it clears on
a release, an approved outing, or the person seen back inside.  A transfer is recorded as a
release (POST /api/custody/{person}/release) before the person leaves.
"""

from __future__ import annotations

from collections.abc import Iterator

from server.rules.context import RuleContext
from server.rules.params import BelongingsLeftParams, ParamSet, UnauthorizedExitParams
from server.rules.spec import Condition, RuleSpec
from server.twin import PersonState

LOCKERS_PROFILE = "lockers"


def _last_seen(person: PersonState) -> tuple[str, float] | None:
    if person.zone is not None and person.zone_since is not None:
        return person.zone, person.zone_since
    if person.timeline:
        zone, since, _ = person.timeline[-1]
        return zone, since
    return None


def _been_inside(ctx: RuleContext, person: PersonState, outer: frozenset[str]) -> bool:
    start = person.custody_start
    for zone, _since, until in reversed(person.timeline):
        if start is not None and until is not None and until < start:
            return False
        if ctx.kind(zone) not in outer:
            return True
    return False


def unauthorized_exit(ctx: RuleContext, params: ParamSet[UnauthorizedExitParams],
                      now: float) -> Iterator[Condition]:
    for person in ctx.in_custody():
        seen = _last_seen(person)
        if seen is None:
            continue
        zone, since = seen
        kind = ctx.kind(zone)
        p = params.for_kind(kind)
        if kind in p.exit_kinds:
            where = "exit"
        elif kind in p.entrance_kinds \
                and _been_inside(ctx, person, p.exit_kinds | p.entrance_kinds):
            where = "entrance"
        else:
            continue
        if person.outing_until is not None and now < person.outing_until:
            ctx.wake_at(person.outing_until)  # the outing ends: are they back?
            continue
        zh, en = ctx.names(zone)
        gone = "" if person.zone == zone else " (已离开读卡范围)"
        gone_en = "" if person.zone == zone else " (no longer seen)"
        yield Condition(
            subject=person.id, zone=zone,
            message_zh=f"{zh}: 在押人员 {person.id} 未经出所登记离开办案区{gone}",
            message_en=f"{en}: person in custody {person.id} leaving without release or "
                       f"approved outing{gone_en}",
            details={"where": where, "seen": person.zone == zone},
            since=since,
        )


def belongings_left(ctx: RuleContext, params: ParamSet[BelongingsLeftParams],
                    now: float) -> Iterator[Condition]:
    """A released person with a locker still occupied in their name.  The locker bank's
    last known state counts even while it is offline: belongings do not move by themselves,
    and lockers emptied meanwhile arrive from the edge's outbox."""
    stored: dict[str, tuple[str, list[str]]] | None = None  # read once, if anyone left
    for person in ctx.people():
        if person.in_custody or person.released_at is None:
            continue
        if stored is None:
            stored = _stored_belongings(ctx)
        found = stored.get(person.id)
        if found is None:
            continue
        zone, lockers = found
        zh, en = ctx.names(zone)
        which = ", ".join(lockers)
        yield Condition(
            subject=person.id, zone=zone,
            message_zh=f"{zh}: {person.id} 已出所, 保管柜 {which} 内仍有随身物品",
            message_en=f"{en}: {person.id} released, belongings still in locker {which}",
            details={"lockers": lockers},
            since=person.released_at,
        )


def _stored_belongings(ctx: RuleContext) -> dict[str, tuple[str, list[str]]]:
    """person id -> (zone of the first bank holding their things, lockers in bank order);
    an entry names the person by id or by tag."""
    tags = ctx.twin.tags
    stored: dict[str, tuple[str, list[str]]] = {}
    for device in ctx.devices(LOCKERS_PROFILE):
        occupied = device.metrics.get("occupied")
        if not isinstance(occupied, list):
            continue
        for entry in occupied:
            locker, _, ref = str(entry).partition(":")
            pid = tags.get(ref, ref)
            if pid not in stored:
                stored[pid] = (device.zone, [])
            stored[pid][1].append(locker)
    return stored


UNAUTHORIZED_EXIT = RuleSpec(
    id="unauthorized_exit",
    severity="critical",
    title_zh="违规离开办案区",
    title_en="Unauthorized exit",
    basis_zh="办案区使用管理规定 第四条: 未办理出所手续不得带离办案区",
    basis_en="Case-handling area rules art. 4: no one in custody leaves without a recorded "
             "release, transfer or approved outing",
    params=UnauthorizedExitParams,
    conditions=unauthorized_exit,
    scope="person",
    needs_custody=True,
)

BELONGINGS_LEFT = RuleSpec(
    id="belongings_left",
    severity="minor",
    title_zh="随身物品未领取",
    title_en="Belongings left in a locker",
    basis_zh="涉案人员随身物品管理: 出所时返还, 防止物品遗忘",
    basis_en="Personal belongings are returned on release (nothing forgotten)",
    params=BelongingsLeftParams,
    conditions=belongings_left,
    scope="person",
    applies=lambda person: person.released_at is not None and not person.in_custody,
    watch_profiles=frozenset({LOCKERS_PROFILE}),  # belongings stored or taken: look again
)
