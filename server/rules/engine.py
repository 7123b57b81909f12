"""The rule engine: reads the twin at a given time and says which violations hold.

Pure: no I/O, no clock of its own.  ``evaluate(twin, now, changes)`` is called after every
change and whenever ``Evaluation.next_due`` arrives; it keeps the on-delay bookkeeping
(when each raw condition started) between calls.

On-delay: a rule's raw condition must hold *continuously* for its grace period before it
becomes a Violation (ISA-18.2 on-delay, against reader jitter and people walking through a
door one after the other).  A condition absent from one evaluation starts over.  Grace
periods are site seconds; at ``speed`` N they last ``grace / N`` real seconds.

Incremental evaluation: every rule has a scope (spec.py) whose units are zones, people,
devices or nodes.  The engine remembers which conditions each unit of each rule produced.
Given the ``Changes`` since the previous call, it re-runs every rule for the units that
changed only and keeps the others' conditions as they were: exactly what a full
evaluation would find, because a unit's conditions are a function of that unit's state and
the clock.  The clock is handled by a schedule (a heap) of per-unit wake-ups: the end of a
pending grace period, and the instants rules announce with ``ctx.wake_at`` (a custody limit,
an outing's end, a completed rest break); a unit whose time has come is re-run like a
changed one.  ``changes=None`` (and the first call, a call with another twin, or one after
an error) is a full evaluation of every unit, which rebuilds all of that state.
tests/server/test_rules_incremental.py proves both give the same answers.

This module plans (which rule to run for which units, given what changed); what the runs
found, the on-delays, the violations and the schedule are kept by the Ledger
(server/rules/ledger.py).
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from protocol.site import SiteConfig
from server.rules.catalogue import CATALOGUE
from server.rules.context import RuleContext, SiteIndex
from server.rules.impact import (
    DEVICE,
    FIRST_PROFILE_BIT,
    NODE,
    P_CUSTODY,
    PERSON,
    ChangeImpact,
)
from server.rules.ledger import Ledger
from server.rules.params import ParamSet, RuleParams, resolve_params
from server.rules.rule_state import SCOPES, SITE, Promises, RuleState, ordered
from server.rules.spec import Condition, RuleSpec
from server.rules.types import AlarmKey, Evaluation
from server.twin import Changes, Twin

log = logging.getLogger(__name__)

# Drop stale schedule entries when the heap grows past this many times the live ones
# (checked every COMPACT_EVERY evaluations).
HEAP_SLACK = 4
COMPACT_EVERY = 1024


# One rule of a plan, with what _incremental reads of it for every evaluation unpacked:
# (state, scope, filtered, group, applies, zones_ok, unit_keys, due).
_Step = tuple[RuleState, int, bool, int, Callable[[Any], bool] | None, frozenset[str] | None,
              dict[str, tuple[AlarmKey, ...]], dict[str, float]]


def _step(state: RuleState) -> _Step:
    """A plan's entry for ``state`` (its dicts are kept, never replaced: shared here)."""
    return (state, state.scope, state.filtered, state.group, state.applies, state.zones_ok,
            state.unit_keys, state.due)


class RuleEngine:
    def __init__(self, site: SiteConfig, speed: float = 1.0, *,
                 rules: Sequence[RuleSpec] = CATALOGUE) -> None:
        """``site.rules`` carries parameter overrides; durations are site seconds and are
        divided by ``speed`` to become real seconds.

        Raises RuleConfigError (server.rules.params) when the overrides name an unknown
        rule, parameter or zone kind, or a value of the wrong type.
        """
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.site = site
        self.speed = speed
        self.rules: tuple[RuleSpec, ...] = tuple(rules)
        self.params: Mapping[str, ParamSet[Any]] = resolve_params(
            site.rules, {r.id: r.params for r in self.rules})
        self.index = SiteIndex.build(site)
        self.started_at: float | None = None
        self._memo: dict[Any, Any] = {}  # RuleContext.memo, kept between evaluations
        enabled = [r for r in self.rules if self.params[r.id].any_enabled]
        self._states = [RuleState(i, r, self.params[r.id]) for i, r in enumerate(enabled)]
        self._watched = frozenset(p for r in enabled for p in r.watch_profiles)
        self._watching = [s for s in self._states if s.spec.watch_profiles]
        # Rules sharing promises share the work of narrowing the units.
        self._groups: list[Promises] = []
        for state in self._states:
            if state.promises is not None:
                if state.promises not in self._groups:
                    self._groups.append(state.promises)
                state.group = self._groups.index(state.promises)
        self._group_scope = [SCOPES.index(g[0]) for g in self._groups]
        self._having: dict[Promises, frozenset[str]] = {}  # _relevant's profile filter
        self._impact = ChangeImpact(self.index, (
            p for r in enabled if r.scope == "zone" for p in r.reads_profiles))
        # A bit per device profile that device rules promise (RuleSpec.profiles): a tag
        # reader's event does not even look at the door, panic and smoke rules.
        first = FIRST_PROFILE_BIT << len(self._impact.profile_bit)
        self._device_bit = {p: first << i for i, p in enumerate(sorted(
            {p for r in enabled if r.scope == "device" for p in r.profiles}))}
        for state in self._states:
            if state.scope_name == "zone":
                state.read_bits(self._impact.profile_bit)
            state.kinds_from_params(self.index.zone_kind)
            if state.scope_name == "device":
                for p in state.spec.profiles:
                    state.need |= self._device_bit[p]
            elif state.scope_name == "person" and state.spec.needs_custody:
                state.need = P_CUSTODY  # a staff badge moving is none of its business
        # The rules to run, in catalogue order, for each "what changed" mask (as met).
        self._plans: dict[int, list[_Step]] = {}
        self._ledger = Ledger(self.index, speed, self._states)
        self._run = self._ledger.run
        self._ctx: RuleContext | None = None  # reused: one evaluation at a time
        self._needs_full = True
        self._evaluations = 0

    @property
    def pending(self) -> Mapping[AlarmKey, float]:
        """Every raw condition that holds (ripe or still in its grace period), since when."""
        return dict(self._ledger.since)

    def grace_real(self, cond: Condition, params: RuleParams) -> float:
        """The condition's on-delay in real seconds (Ledger.grace_real)."""
        return self._ledger.grace_real(cond, params)

    def evaluate(self, twin: Twin, now: float, changes: Changes | None = None) -> Evaluation:
        """Every violation that holds at ``now``.

        ``changes``: everything the twin reported changed since the previous call (the
        merged ``Changes`` of every Twin call in between), for an incremental evaluation;
        None for a full one.  Both give the same answer.  The returned ``active`` mapping
        is shared with later evaluations that change nothing: read it, do not modify it.
        """
        if self.started_at is None:
            self.started_at = now
        ctx = self._ctx
        if ctx is None or ctx.twin is not twin:
            ctx = self._ctx = RuleContext(twin, self.index, self.started_at, speed=self.speed,
                                          params=self.params, memo=self._memo)
            changes = None  # another twin: nothing remembered applies to it
        ctx.now = now
        ctx.held_cache_clear()
        full = changes is None or self._needs_full
        self._needs_full = True  # until this call completes: an error leaves state half-done
        if full:
            self._full(twin, ctx, now)
        else:
            assert changes is not None
            self._incremental(twin, ctx, now, changes)
        self._needs_full = False
        return self._ledger.answer()

    # ------------------------------------------------------------------ passes

    def _full(self, twin: Twin, ctx: RuleContext, now: float) -> None:
        ledger = self._ledger
        ledger.begin_full()
        ctx.zone_ids = ctx.person_ids = ctx.device_ids = ctx.node_ids = None
        try:
            for state in self._states:
                self._run(state, ctx, None, now)
        finally:
            ledger.end_full()
        self._impact.reset(twin)

    def _incremental(self, twin: Twin, ctx: RuleContext, now: float, changes: Changes) -> None:
        index, impact = self.index, self._impact
        dirty = (set(changes.zones), set(changes.people), set(changes.devices),
                 set(changes.nodes), set[str]())
        if changes.devices or changes.nodes:
            impact.devices(twin, changes, dirty[2])
        zone_bits = impact.zone_bits(twin, changes) if changes.zones or changes.people else 0
        person_bits = zone_bits & P_CUSTODY
        ledger = self._ledger
        states, heap, zone_all = self._states, ledger.heap, impact.zone_all
        while heap and heap[0][0] <= now:  # units whose time has come
            when, r, unit = heapq.heappop(heap)
            state = states[r]
            if state.due.get(unit) == when:
                del state.due[unit]
                dirty[state.scope].add(unit)
                # Time, not a change: re-run what reads anything.
                zone_bits, person_bits = zone_all, P_CUSTODY
        if ledger.volatile:
            for r, unit in ledger.volatile:
                dirty[states[r].scope].add(unit)
            ledger.volatile.clear()
            zone_bits, person_bits = zone_all, P_CUSTODY
        zone_ids = ordered(dirty[0], index.zone_rank)
        person_ids = sorted(dirty[1]) if len(dirty[1]) > 1 else list(dirty[1])
        device_ids = ordered(dirty[2], index.device_rank)
        node_ids = ordered(dirty[3], index.node_rank)
        by_scope = (zone_ids, person_ids, device_ids, node_ids)
        ctx.zone_ids, ctx.person_ids, ctx.device_ids, ctx.node_ids = by_scope
        mask = ((zone_bits & zone_all if zone_ids else 0)
                | (PERSON | person_bits if person_ids else 0) | (NODE if node_ids else 0))
        if device_ids:
            mask |= DEVICE
            device_bit, profile_of = self._device_bit, index.device_profile
            for d in device_ids:
                mask |= device_bit.get(profile_of.get(d, ""), 0)
        done: set[int] | None = None
        if self._watched and changes.devices:
            # Whatever else changed: a watched device changed, every unit may have.
            profile_of, watching = index.device_profile, self._watched
            for d in changes.devices:  # (usually none: no set built then)
                if profile_of.get(d, "") in watching:
                    watched = {profile_of.get(c, "") for c in changes.devices} & watching
                    for state in self._watching:
                        if not watched.isdisjoint(state.spec.watch_profiles):
                            self._run_all(state, ctx, now)
                            done = done or set()
                            done.add(state.index)
                    break
        plan = self._plans.get(mask)
        if plan is None:
            plan = self._plans[mask] = [_step(s) for s in states if s.runs_for(mask)]
        if done is not None:
            plan = [step for step in plan if step[0].index not in done]
        relevant: list[list[str] | None] = [None] * len(self._groups)
        objects = (twin.zones, twin.people, twin.devices, twin.nodes)
        for state, scope, filtered, group, applies, zones_ok, keys, due in plan:
            if not filtered:  # catalogue order, as a full evaluation
                self._run(state, ctx, None if scope == SITE else by_scope[scope], now)
                continue
            units = by_scope[scope]  # (a filtered rule is never a site rule)
            # Only the units that can hold a condition, and those that held one (so that it
            # clears); none of either: the rule has nothing to do.  ``some`` stays ``units``
            # (the same list) while nothing is narrowed away: nothing to clear then.
            if group < 0:
                some = units
            else:
                some = relevant[group]  # type: ignore[assignment]
                if some is None:
                    some = relevant[group] = self._relevant(state.promises, units, ctx)
            # (No list built for one unit, or when every unit passes: the usual cases.)
            if some and applies is not None:
                of = objects[scope]
                if len(some) == 1:
                    if some[0] not in of or not applies(of[some[0]]):
                        some = []
                else:
                    for u in some:
                        if u not in of or not applies(of[u]):
                            some = [v for v in some if v in of and applies(of[v])]
                            break
            if some and zones_ok is not None:
                if len(some) == 1:
                    if some[0] not in zones_ok:
                        some = []
                else:
                    for u in some:
                        if u not in zones_ok:
                            some = [v for v in some if v in zones_ok]
                            break
            if not some:  # only conditions to clear, if any
                if keys or due:
                    for u in units:
                        if u in keys or u in due:
                            self._run(state, ctx, [v for v in units if v in keys or v in due],
                                      now)
                            break
                continue
            if some is not units and (keys or due):
                for u in units:
                    if (u in keys or u in due) and u not in some:
                        some = [v for v in units if v in some or v in keys or v in due]
                        break
            self._run(state, ctx, some, now)
        self._evaluations += 1
        if self._evaluations % COMPACT_EVERY == 0:
            ledger.compact(HEAP_SLACK)

    def _relevant(self, promises: Promises | None, units: list[str],
                  ctx: RuleContext) -> list[str]:
        """The units that a rule with these promises (RuleSpec.needs_custody, .profiles)
        may hold a condition for."""
        assert promises is not None
        scope, needs_custody, profiles = promises
        if needs_custody:
            if scope == "zone":
                # Held among ctx.zone_ids, which are ``units``: as many means all of them
                # (``units`` itself, which spares _incremental a look at the others).
                held = ctx.held_ids()
                if len(held) < len(units):
                    units = [u for u in units if u in held]
            elif scope == "person":
                people = ctx.twin.people
                for u in units:
                    if u not in people or not people[u].in_custody:
                        units = [v for v in units if v in people and people[v].in_custody]
                        break
        if profiles and units:
            having = self._having.get(promises)
            if having is None:  # the devices of these profiles, or the zones holding one
                index = self.index
                having = self._having[promises] = frozenset(
                    (d for d, p in index.device_profile.items() if p in profiles)
                    if scope == "device" else
                    (z for z, ps in index.zone_profiles.items() if not profiles.isdisjoint(ps)))
            for u in units:
                if u not in having:
                    return [v for v in units if v in having]
        return units

    def _run_all(self, state: RuleState, ctx: RuleContext, now: float) -> None:
        saved = ctx.zone_ids, ctx.person_ids, ctx.device_ids, ctx.node_ids
        held = ctx.held_cache_swap((None, None))
        ctx.zone_ids = ctx.person_ids = ctx.device_ids = ctx.node_ids = None
        try:
            self._run(state, ctx, None, now)
        finally:
            ctx.zone_ids, ctx.person_ids, ctx.device_ids, ctx.node_ids = saved
            ctx.held_cache_swap(held)
