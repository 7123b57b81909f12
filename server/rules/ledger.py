"""The rule engine's ledger: what the rules said, folded into on-delays, violations and a
schedule (server/rules/engine.py decides which rule to run for which units; this module
keeps what the runs found).

For every (rule, subject) whose raw condition holds, the ledger keeps since when
(``since``); once the condition has held for its grace period it is a Violation
(``active``).  Each rule's units remember the keys they produced (RuleState.unit_keys), so
a unit that is re-run and says nothing any more clears them; ``heap`` holds the instants a
unit must be re-run without a change (a grace period ending, a rule's ``ctx.wake_at``),
``volatile`` the units a rule asked to re-run on every evaluation.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

from protocol.timing import to_real
from server.rules.context import RuleContext, SiteIndex
from server.rules.params import RuleParams
from server.rules.rule_state import RuleState
from server.rules.spec import Condition
from server.rules.types import SITE_UNIT, AlarmKey, Evaluation, Violation
from server.twin import Twin

MIN_GRACE_REAL_S = 0.25
"""No grace period shorter than this many real seconds, however high the --speed."""


class Ledger:
    """The engine's memory between evaluations (one engine, one ledger)."""

    def __init__(self, index: SiteIndex, speed: float, states: Sequence[RuleState]) -> None:
        self.index = index
        self.speed = speed
        self.states = states
        self.since: dict[AlarmKey, float] = {}  # raw conditions holding, since when
        self.active: dict[AlarmKey, Violation] = {}
        self.snapshot: dict[AlarmKey, Violation] | None = None  # active, as last answered
        self.before: dict[AlarmKey, Violation] | None = None  # active before a full pass
        self.heap: list[tuple[float, int, str]] = []  # (when, rule index, unit), lazy
        self.volatile: set[tuple[int, str]] = set()  # re-run on every evaluation
        self._answer: Evaluation | None = None  # the last one (frozen: shared if equal)

    def grace_real(self, cond: Condition, params: RuleParams) -> float:
        """The condition's on-delay in real seconds.

        Floors keep accelerated graces (``--speed``) longer than what devices and networks
        need in real time: ``min_real_s`` of the condition (start-up graces: processes
        connecting; polled devices: their poll period), and MIN_GRACE_REAL_S for every
        grace (people walking through a door together are seen by two readers a few
        milliseconds apart).  Like protocol.timing.scaled_interval a floor never lengthens
        a grace beyond its site value, and a grace of 0 stays 0."""
        grace = params.grace_s if cond.grace_s is None else cond.grace_s
        floor = max(cond.min_real_s, MIN_GRACE_REAL_S)
        return max(to_real(grace, self.speed), min(grace, floor))

    # ------------------------------------------------------------------ passes

    def begin_full(self) -> None:
        """A full pass rebuilds everything, in evaluation order; the violations held in
        transit (RuleSpec.hold_in_transit) are carried over from ``before``."""
        self.before, self.active, self.snapshot = self.active, {}, None
        self.heap.clear()
        self.volatile.clear()
        for state in self.states:
            state.due.clear()

    def end_full(self) -> None:
        self.before = None

    def compact(self, slack: int) -> None:
        """Drop the schedule's stale entries when it grew past ``slack`` times the live ones."""
        states = self.states
        if len(self.heap) > slack * (sum(len(s.due) for s in states) + 16):
            self.heap = [(when, s.index, u) for s in states for u, when in s.due.items()]
            heapq.heapify(self.heap)

    def answer(self) -> Evaluation:
        """The Evaluation of what the ledger holds now (the previous one if nothing changed)."""
        if self.snapshot is None:
            self.snapshot = dict(self.active)
        next_due = self.next_due()
        answer = self._answer
        if answer is None or answer.active is not self.snapshot or answer.next_due != next_due:
            answer = self._answer = Evaluation(active=self.snapshot, next_due=next_due)
        return answer

    # ------------------------------------------------------------------ one rule

    def run(self, state: RuleState, ctx: RuleContext,
             units: Sequence[str] | None, now: float) -> None:
        """Re-run one rule for ``units`` (None: all of them) and fold the answer into the
        engine's state: holding conditions, active violations and the schedule."""
        unit_keys = state.unit_keys
        old: list[AlarmKey] | None = None
        hold = state.hold
        old_unit: dict[AlarmKey, str] = {}  # hold_in_transit: the unit each old key had
        if units is None:
            old = [key for keys in unit_keys.values() for key in keys]
            if hold:
                old_unit = {key: unit for unit, keys in unit_keys.items() for key in keys}
            unit_keys.clear()
        elif unit_keys:
            for unit in units:
                keys = unit_keys.pop(unit, None)
                if keys:
                    if old is None:
                        old = list(keys)
                    else:
                        old.extend(keys)
                    if hold:
                        old_unit.update((key, unit) for key in keys)
        ctx.scope, ctx.unit = state.scope_name, SITE_UNIT
        new: dict[AlarmKey, str] | None = None  # key -> the unit holding it
        unit_due: dict[str, float] | None = None
        for cond in state.conditions(ctx, state.params, now):  # type: ignore[misc]
            key = (state.rule_id, cond.subject)
            if new is None:
                new = {}
            elif key in new:
                continue  # one condition per (rule, subject): the first one wins
            zone_params = state.params_of(cond.zone, self.index)
            if not zone_params.enabled:
                continue
            unit = new[key] = ctx.unit
            since = cond.since if cond.since is not None else self.since.get(key, now)
            self.since[key] = since
            due = since + self.grace_real(cond, zone_params)
            if now >= due:
                self._activate(state, key, cond, since, zone_params.severity, ctx)
            else:
                if self.active.pop(key, None) is not None:
                    self.snapshot = None
                if unit_due is None:
                    unit_due = {unit: due}
                elif due < unit_due.get(unit, due + 1):
                    unit_due[unit] = due
        kept: dict[AlarmKey, str] | None = None  # held in transit: key -> its unit
        if old:
            for key in old:
                if new is None or key not in new:
                    if hold and self.holds_in_transit(ctx.twin, key, old_unit[key]):
                        if kept is None:
                            kept = {}
                        kept[key] = old_unit[key]
                        continue
                    self.since.pop(key, None)
                    if self.active.pop(key, None) is not None:
                        self.snapshot = None
        if new or kept:
            produced: dict[str, list[AlarmKey]] = {}
            for key, unit in (new or {}).items():
                produced.setdefault(unit, []).append(key)
            for key, unit in (kept or {}).items():
                produced.setdefault(unit, []).append(key)
            for unit, held in produced.items():
                unit_keys[unit] = tuple(held)
        if ctx.wakes:
            if unit_due is None:
                unit_due = {}
            for unit, when in ctx.wakes.items():
                if when < unit_due.get(unit, when + 1):
                    unit_due[unit] = when
            ctx.wakes.clear()
        if ctx.volatile_units:
            self.volatile.update((state.index, u) for u in ctx.volatile_units)
            ctx.volatile_units.clear()
        due_of = state.due  # the schedule: when to re-run these units without a change
        if units is None:
            due_of.clear()
        elif due_of:
            for unit in units:
                if unit_due is None or unit not in unit_due:
                    due_of.pop(unit, None)
        if unit_due:
            for unit, when in unit_due.items():
                if due_of.get(unit) != when:
                    due_of[unit] = when
                    heapq.heappush(self.heap, (when, state.index, unit))

    def holds_in_transit(self, twin: Twin, key: AlarmKey, zone: str) -> bool:
        """RuleSpec.hold_in_transit: whether the violation ``key`` about a person, last
        held in ``zone``, is kept because the person (still in custody) is in no zone, last
        seen there (walking between two readers).  Only a violation is kept: a condition
        still in its grace period starts over where the person is seen next."""
        before = self.active if self.before is None else self.before
        violation = before.get(key)
        if violation is None:
            return False
        person = twin.people.get(key[1])
        if person is None or not person.in_custody or person.zone is not None \
                or not person.timeline or person.timeline[-1][0] != zone:
            return False
        if self.before is not None:  # a full pass rebuilds _active: carry it over
            self.active[key] = violation
        return True

    def _activate(self, state: RuleState, key: AlarmKey, cond: Condition, since: float,
                  severity: str | None, ctx: RuleContext) -> None:
        """The condition is ripe: a Violation (the one already there if nothing changed)."""
        severity = severity or state.spec.severity
        details = self._details(cond, ctx.twin)
        was = self.active.get(key)
        if was is not None and was.since == since and was.zone == cond.zone \
                and was.message_en == cond.message_en and was.message_zh == cond.message_zh \
                and was.severity == severity and was.details == details:
            return
        self.active[key] = Violation(
            rule=state.rule_id, subject=cond.subject, zone=cond.zone,
            severity=severity,  # type: ignore[arg-type]
            message_zh=cond.message_zh, message_en=cond.message_en, since=since,
            details=details,
        )
        self.snapshot = None

    def next_due(self) -> float | None:
        heap, states = self.heap, self.states
        while heap:
            when, r, unit = heap[0]
            if states[r].due.get(unit) == when:
                return when
            heapq.heappop(heap)  # superseded by a later run of that unit
        return None

    @staticmethod
    def _details(cond: Condition, twin: Twin) -> dict[str, object]:
        details = dict(cond.details)
        # Maintenance hook (DESIGN.md: suppression by design while a device is in
        # maintenance, still evaluated and logged): the violation is kept and flagged here;
        # the alarm side decides what a suppressed alarm looks like.
        device = twin.devices.get(cond.subject)
        if device is not None and device.maintenance:
            details["maintenance"] = True
        return details
