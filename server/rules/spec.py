"""What a rule is: a row of data (a frozen description), not a class to subclass.

A rule's ``conditions`` function reads the twin through a RuleContext and yields the raw
conditions that hold *now*.  The engine owns everything about time: it remembers since when
each (rule, subject) has held, applies the on-delay (grace period), the zone-kind
parameters, the enabled flag and the severity, and turns ripe conditions into Violations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from server.rules.params import ParamSet, RuleParams
from server.rules.types import Scope, Severity

if TYPE_CHECKING:
    from server.rules.context import RuleContext


@dataclass(slots=True)
class Condition:
    """A raw condition that holds now (before its grace period is served).

    Not frozen, though nothing changes one once built: rules build one per holding
    condition on every evaluation of its unit, and a frozen dataclass's ``__init__`` costs
    2.5 times as much (an ``object.__setattr__`` per field).

    ``grace_s`` (site seconds) overrides the zone's ``grace_s`` parameter for conditions with
    a grace of their own (e.g. a node never seen since start-up); ``min_real_s`` is a floor
    in real seconds that the speed does not shrink.  ``since`` (real epoch s) is for
    time-driven conditions that know when they began (a custody limit passed at 12:00:00),
    so the violation's start does not depend on when the engine happened to look.
    """

    subject: str
    zone: str | None
    message_zh: str
    message_en: str
    details: Mapping[str, object] = field(default_factory=dict)
    grace_s: float | None = None
    min_real_s: float = 0.0
    since: float | None = None  # a known start (a deadline passed): overrides "first seen"


ZoneInput = Literal["custody", "people", "occupied", "devices"]
ConditionsFn = Callable[["RuleContext", ParamSet[Any], float], Iterable[Condition]]


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """One rule of the catalogue (DESIGN.md, "Zone safety rules").

    ``scope`` says what a condition depends on, so the engine can re-run a rule for the
    units that changed only and keep the other units' conditions from the previous call
    (engine.py).  A rule iterates its units with the RuleContext iterator of its scope and
    yields a unit's conditions while it holds that unit:

    * ``zone`` — ``ctx.held()`` / ``ctx.zones`` / ``ctx.devices(profile)`` (the devices
      *in* those zones): reads the zone, its occupants and those people, and the zone's
      devices.  Re-run when the zone is in ``Changes.zones`` (the twin adds a person's
      zone when the person changes, and a device's zone when the device does).
    * ``person`` — ``ctx.people()`` / ``ctx.in_custody()``: reads the person (and the
      site's static zone facts).  Re-run when the person is in ``Changes.people``.
    * ``device`` — ``ctx.devices(profile)``: reads the device and whether its node is
      online since when.  Re-run when the device changed or its node was born or died.
    * ``node`` — ``ctx.nodes()``: reads the node.  Re-run when it is in ``Changes.nodes``.
    * ``site`` — reads anything; re-run on every evaluation (for a rule that fits none of
      the above; costs a full pass per message).

    A subject belongs to one unit (a person is in one zone, a recorder in its own zone).
    Time-driven answers use ``ctx.wake_at`` / ``ctx.volatile`` (context.py).

    Optional promises let the engine skip work; a unit that held a condition is always
    re-run, so the condition clears.  A wrong promise loses conditions: the
    incremental-equals-full property test (tests/server/test_rules_incremental.py) is
    there to catch one.

    * ``reads`` (zone scope): what of the zone the conditions read — ``custody`` (the
      people in custody there), ``people`` (everyone there, custody included),
      ``occupied`` (whether anyone is there at all), ``devices`` (the zone's devices).
      An evaluation whose changes touch none of them
      (a badge moving for a custody-only rule, a sensor reading for a people-only rule)
      does not re-run the rule.
    * ``reads_profiles`` (zone scope, with ``devices`` in ``reads``): the only device
      profiles the conditions read (camera_fault reads the cameras alone); a change to
      another device of the zone (a tag reader's event) does not re-run the rule.  Empty:
      any device of the zone.
    * ``needs_custody``: only a zone holding a person in custody (zone scope) or a person
      in custody (person scope) can hold a condition.
    * ``profiles``: only devices of these profiles (device scope) or zones containing one
      (zone scope) can hold a condition.
    * ``kinds_param`` (zone scope): the name of a parameter listing zone kinds (e.g.
      ``zone_kinds``); only a zone whose kind is in that parameter (the kind's own value)
      can hold a condition.
    * ``applies``: only a unit for whose twin object (ZoneState, PersonState, DeviceState,
      NodeState) this cheap test is true can hold a condition.
    * ``hold_in_transit`` (zone scope, person subjects): a condition about a person in
      custody who left the zone for no zone (walking between two readers) is kept as it
      was (since, and active or still in its grace) until they are seen again; then the
      zone they enter decides.  Without it, every walk between rooms would clear the
      alarm and raise it again.  Nothing starts while in transit.
    * ``watch_profiles``: a change to any device of these profiles re-runs the rule for all
      of its units (belongings_left reads the locker banks for every released person).
    """

    id: str
    severity: Severity
    basis_zh: str
    basis_en: str
    params: type[RuleParams]
    conditions: ConditionsFn
    scope: Scope = "zone"
    title_zh: str = ""
    title_en: str = ""
    reads: frozenset[ZoneInput] = frozenset({"people", "devices"})
    reads_profiles: frozenset[str] = frozenset()
    needs_custody: bool = False
    profiles: frozenset[str] = frozenset()
    kinds_param: str = ""
    applies: Callable[[Any], bool] | None = None
    watch_profiles: frozenset[str] = frozenset()
    hold_in_transit: bool = False
