"""The engine's record of one enabled rule (server/rules/engine.py): what its units said at
its last run, when to re-run which unit, and what the rule needs to be run at all (the
"what changed" bits of its RuleSpec promises, the zones its kinds parameter allows).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from server.rules.context import SiteIndex
from server.rules.impact import DEVICE, NODE, PERSON, Z_DEVICES, ZONE_BITS
from server.rules.params import ParamSet
from server.rules.spec import ConditionsFn, RuleSpec
from server.rules.types import AlarmKey, Scope

SCOPES = ("zone", "person", "device", "node", "site")  # RuleSpec.scope, by index
SITE = SCOPES.index("site")
SCOPE_BIT = (0, PERSON, DEVICE, NODE)
Promises = tuple[str, bool, frozenset[str]]  # scope, needs_custody, profiles


@dataclass(slots=True)
class RuleState:
    """One enabled rule and what each of its units said at its last run."""

    index: int
    spec: RuleSpec
    params: ParamSet[Any]
    unit_keys: dict[str, tuple[AlarmKey, ...]] = field(default_factory=dict)
    due: dict[str, float] = field(default_factory=dict)  # unit -> when to re-run it
    # Copied out of the spec: read for every rule on every evaluation.
    rule_id: str = ""
    conditions: ConditionsFn | None = None
    scope_name: Scope = "site"
    scope: int = SITE
    hold: bool = False  # RuleSpec.hold_in_transit
    promises: Promises | None = None
    group: int = -1  # index of its promises in RuleEngine._groups
    applies: Callable[[Any], bool] | None = None
    filtered: bool = False  # promises or applies: the engine narrows the units first
    zone_params: dict[str | None, Any] = field(default_factory=dict)  # zone -> its params
    # The "what changed" bits it needs: zone scope, what it reads (RuleSpec.reads); device
    # scope, its profiles (RuleSpec.profiles; none: any device); person scope, someone in
    # custody (RuleSpec.needs_custody).
    need: int = 0
    zones_ok: frozenset[str] | None = None  # RuleSpec.kinds_param: the zones it applies to

    def __post_init__(self) -> None:
        spec = self.spec
        self.rule_id, self.conditions = spec.id, spec.conditions
        self.scope_name, self.scope = spec.scope, SCOPES.index(spec.scope)
        self.hold = spec.hold_in_transit
        if spec.scope != "site":
            if spec.needs_custody or spec.profiles:
                self.promises = (spec.scope, spec.needs_custody, spec.profiles)
            self.applies = spec.applies
            self.filtered = self.promises is not None or self.applies is not None

    def kinds_from_params(self, zone_kind: Mapping[str, str]) -> None:
        """RuleSpec.kinds_param: the zones whose kind is in that parameter (of the kind's
        own parameters), worked out once from the site's resolved parameters."""
        name = self.spec.kinds_param
        if name and self.scope == 0:
            self.zones_ok = frozenset(
                z for z, kind in zone_kind.items()
                if kind in getattr(self.params.for_kind(kind), name))
            self.filtered = True

    def read_bits(self, profile_bit: Mapping[str, int]) -> None:
        """Work out ``need`` (zone scope) from the spec's reads; ``profile_bit``: the bit of
        each device profile some zone rule reads alone (impact.py)."""
        for what in self.spec.reads:
            if what == "devices" and self.spec.reads_profiles:
                for profile in self.spec.reads_profiles:
                    self.need |= profile_bit.get(profile, Z_DEVICES)
            else:
                self.need |= ZONE_BITS[what]

    def runs_for(self, mask: int) -> bool:
        """Whether this rule has anything to look at when ``mask`` says what changed."""
        if self.scope == SITE:
            return True
        if self.scope == 0:  # zone: only if what changed there is something it reads
            return bool(mask & self.need)
        if not mask & SCOPE_BIT[self.scope]:
            return False
        # Device: one of its profiles; person: needs_custody and someone is or was in custody.
        return not self.need or bool(mask & self.need)

    def params_of(self, zone: str | None, index: SiteIndex) -> Any:
        """The zone's parameters (by its kind), looked up once per zone."""
        params = self.zone_params.get(zone)
        if params is None:
            params = self.zone_params[zone] = self.params.for_kind(
                index.zone_kind.get(zone) if zone is not None else None)
        return params


def ordered(units: set[str], rank: Mapping[str, int]) -> list[str]:
    """Units in site order (the order a full evaluation visits them)."""
    if len(units) < 2:
        return list(units)
    if len(units) == 2:  # a person moving: the zone left and the zone entered
        a, b = units
        return [a, b] if rank.get(a, -1) <= rank.get(b, -1) else [b, a]
    return sorted(units, key=lambda u: rank.get(u, -1))
