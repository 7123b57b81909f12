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
from server.rules.types import Severity

if TYPE_CHECKING:
    from server.rules.context import RuleContext


@dataclass(frozen=True, slots=True)
class Condition:
    """A raw condition that holds now (before its grace period is served).

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


ConditionsFn = Callable[["RuleContext", ParamSet[Any], float], Iterable[Condition]]


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """One rule of the catalogue (DESIGN.md, "Zone safety rules").

    ``scope`` says what a condition depends on, for incremental evaluation: ``zone`` rules
    read only the zones in ``RuleContext.zones`` (their occupants, those people and the
    zone's devices), so the engine may re-run them for changed zones only; ``site`` rules
    read the whole twin and are cheap enough to run on every call.
    """

    id: str
    severity: Severity
    basis_zh: str
    basis_en: str
    params: type[RuleParams]
    conditions: ConditionsFn
    scope: Literal["zone", "site"] = "zone"
    title_zh: str = ""
    title_en: str = ""
