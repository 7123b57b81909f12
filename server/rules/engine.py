"""The rule engine: reads the twin at a given time and says which violations hold.

Pure: no I/O, no clock of its own.  `evaluate(twin, now)` is called after every change
and whenever `Evaluation.next_due` arrives; it keeps the on-delay bookkeeping (when each
raw condition started) between calls.

On-delay: a rule's raw condition must hold *continuously* for its grace period before it
becomes a Violation (ISA-18.2 on-delay, against reader jitter and people walking through a
door one after the other).  A condition absent from one evaluation starts over.  Grace
periods are site seconds; at ``speed`` N they last ``grace / N`` real seconds.

Incremental evaluation (later): zone-scoped rules (RuleSpec.scope) read only
``RuleContext.zones``; the engine can then pass only the zones in ``Changes.zones`` and
keep the conditions of the other zones from the previous call.  Today every call is a full
evaluation, which costs well under a millisecond for the reference centre.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from protocol.site import SiteConfig
from protocol.timing import to_real
from server.rules.catalogue import CATALOGUE
from server.rules.context import RuleContext, SiteIndex
from server.rules.params import ParamSet, RuleParams, resolve_params
from server.rules.spec import Condition, RuleSpec
from server.rules.types import AlarmKey, Evaluation, Violation
from server.twin import Twin

log = logging.getLogger(__name__)


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
        self._since: dict[AlarmKey, float] = {}  # raw conditions holding, since when
        self._memo: dict[Any, Any] = {}  # RuleContext.memo, kept between evaluations

    @property
    def pending(self) -> Mapping[AlarmKey, float]:
        """Every raw condition that holds (ripe or still in its grace period), since when."""
        return dict(self._since)

    def grace_real(self, cond: Condition, params: RuleParams) -> float:
        """The condition's on-delay in real seconds.  A floor (``min_real_s``) keeps
        start-up graces long enough for real processes to connect at high speeds; like
        protocol.timing.scaled_interval it never lengthens a grace beyond its site value."""
        grace = params.grace_s if cond.grace_s is None else cond.grace_s
        return max(to_real(grace, self.speed), min(grace, cond.min_real_s))

    def evaluate(self, twin: Twin, now: float) -> Evaluation:
        if self.started_at is None:
            self.started_at = now
        ctx = RuleContext(twin, self.index, self.started_at, list(twin.zones.values()),
                          speed=self.speed, params=self.params, memo=self._memo)
        holding: dict[AlarmKey, float] = {}
        active: dict[AlarmKey, Violation] = {}
        next_due: float | None = None
        for rule in self.rules:
            params = self.params[rule.id]
            if not params.any_enabled:
                continue
            for cond in rule.conditions(ctx, params, now):
                key = (rule.id, cond.subject)
                if key in holding:
                    continue  # one condition per (rule, subject): the first one wins
                zone_params = params.for_kind(ctx.kind(cond.zone))
                if not zone_params.enabled:
                    continue
                since = cond.since if cond.since is not None else self._since.get(key, now)
                holding[key] = since
                due = since + self.grace_real(cond, zone_params)
                if now >= due:
                    active[key] = Violation(
                        rule=rule.id, subject=cond.subject, zone=cond.zone,
                        severity=zone_params.severity or rule.severity,
                        message_zh=cond.message_zh, message_en=cond.message_en,
                        since=since, details=self._details(twin, cond),
                    )
                elif next_due is None or due < next_due:
                    next_due = due
        self._since = holding
        if ctx.wake is not None and ctx.wake > now and (next_due is None or ctx.wake < next_due):
            next_due = ctx.wake  # a time-driven rule changes its answer then, message or not
        return Evaluation(active=active, next_due=next_due)

    def _details(self, twin: Twin, cond: Condition) -> dict[str, object]:
        details = dict(cond.details)
        # Maintenance hook (DESIGN.md: suppression by design while a device is in
        # maintenance, still evaluated and logged): the violation is kept and flagged here;
        # the alarm side decides what a suppressed alarm looks like.
        device = twin.devices.get(cond.subject)
        if device is not None and device.maintenance:
            details["maintenance"] = True
        return details
