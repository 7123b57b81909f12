"""Rule parameters: typed models with defaults, overridable per site and per zone kind.

A site overrides them in its ``rules:`` section (docs/rules.md)::

    rules:
      unattended_person: {grace_s: 45, by_zone_kind: {holding: {grace_s: 60}}}
      device_stale: {enabled: false}

Every model forbids unknown keys, so a typo is an error naming the rule and the parameter
(``rules.unattended_person.grace: unknown parameter (known: enabled, grace_s, severity)``).
Overrides are validated once, when the engine is built; evaluation reads ready objects.

Durations are *site* seconds: the engine divides them by the site speed (protocol.timing).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from protocol.site import SECURE_KINDS_BEFORE_SEARCH, ZoneKind
from server.errors import ServerError
from server.rules.types import Severity

ZONE_KINDS: tuple[str, ...] = get_args(ZoneKind)
MAX_GRACE_S = 7 * 24 * 3600.0


class RuleConfigError(ServerError, ValueError):
    """``site.rules`` cannot be used.  ``problems`` holds one line per fault, each starting
    with the path of the offending key (``rules.<rule>[.by_zone_kind.<kind>].<param>``), so
    ``check-config`` can prefix it with the site file name."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid rule parameters:\n" + "\n".join(problems))


class RuleParams(BaseModel):
    """Parameters every rule has.  ``severity`` overrides the rule's default priority."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    severity: Severity | None = None
    grace_s: float = Field(default=0.0, ge=0, le=MAX_GRACE_S,
                           description="on-delay: the condition must hold this long (site s)")


# ------------------------------------------------------------------ per-rule models


class UnattendedPersonParams(RuleParams):
    grace_s: float = Field(default=30.0, ge=0, le=MAX_GRACE_S)


class SearchSkippedParams(RuleParams):
    # Short: only absorbs reader jitter (a wristband seen by the next room's reader a
    # moment before the search terminal reports the completed check).
    grace_s: float = Field(default=10.0, ge=0, le=MAX_GRACE_S)
    allowed_kinds: frozenset[ZoneKind] = Field(
        default=frozenset(SECURE_KINDS_BEFORE_SEARCH),  # type: ignore[arg-type]
        description="zone kinds a person may be in before the body check")


class RecordingParams(RuleParams):
    grace_s: float = Field(default=30.0, ge=0, le=MAX_GRACE_S)
    zone_kinds: frozenset[ZoneKind] = Field(
        default=frozenset({"interrogation", "inquiry", "juvenile"}),
        description="zone kinds whose questioning must be recorded")


class NodeOfflineParams(RuleParams):
    startup_grace_s: float = Field(default=60.0, ge=0, le=MAX_GRACE_S,
                                   description="a node never seen since the server started")
    startup_min_real_s: float = Field(
        default=10.0, ge=0, le=3600,
        description="floor of the startup grace in real seconds: process start-up and "
                    "broker connections are not accelerated by --speed")


class DeviceOfflineParams(RuleParams):
    birth_grace_s: float = Field(default=60.0, ge=0, le=MAX_GRACE_S,
                                 description="a device not reported since its node's birth")
    birth_min_real_s: float = Field(default=10.0, ge=0, le=3600)


class DeviceStaleParams(RuleParams):
    pass


QUESTIONING_KINDS = frozenset({"interrogation", "inquiry", "juvenile"})
HOUR = 3600.0
# Custody limits by legal basis (site seconds).  刑事诉讼法 art. 119 (criminal summons /
# 拘传 12 h, 24 h when the case is major and complex), 治安管理处罚法 (administrative
# questioning 8 h, 24 h in complex cases), 人民警察法 art. 9 (continued on-the-spot
# questioning 24 h, 48 h with approval).  Configurable because laws change.
DEFAULT_CUSTODY_LIMITS_S: dict[str, float] = {
    "criminal_summons": 12 * HOUR,
    "criminal_summons_extended": 24 * HOUR,
    "administrative_questioning": 8 * HOUR,
    "administrative_questioning_extended": 24 * HOUR,
    "continued_questioning": 24 * HOUR,
    "continued_questioning_extended": 48 * HOUR,
}


class SingleOfficerParams(RuleParams):
    # Longer than an officer stepping out for a file or a glass of water (~10 s).
    grace_s: float = Field(default=60.0, ge=0, le=MAX_GRACE_S)
    zone_kinds: frozenset[ZoneKind] = Field(
        default=frozenset({"interrogation"}),
        description="zone kinds where questioning needs two officers")


class FemaleSearchParams(RuleParams):
    grace_s: float = Field(default=30.0, ge=0, le=MAX_GRACE_S)
    zone_kinds: frozenset[ZoneKind] = Field(
        default=frozenset({"body_check"}),
        description="zone kinds where a female person is searched")
    unknown_sex_counts_as_female: bool = Field(
        default=True, description="an officer registered without a sex does not raise it")


class SeparationParams(RuleParams):
    grace_s: float = Field(default=30.0, ge=0, le=MAX_GRACE_S)
    zone_kinds: frozenset[ZoneKind] = Field(
        default=frozenset({"holding"}),
        description="zone kinds where persons in custody must be kept apart")
    same_case: bool = True
    mixed_sex: bool = True
    adult_with_juvenile: bool = True


class JuvenileGuardianParams(RuleParams):
    grace_s: float = Field(default=60.0, ge=0, le=MAX_GRACE_S)
    zone_kinds: frozenset[ZoneKind] = Field(
        default=frozenset(QUESTIONING_KINDS),  # type: ignore[arg-type]
        description="zone kinds where a juvenile is questioned")
    guardian_roles: frozenset[str] = Field(default=frozenset({"guardian"}))


class CustodyTimeExceededParams(RuleParams):
    limits_s: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_CUSTODY_LIMITS_S),
        description="custody limit per legal basis (site s); an unknown basis gets the "
                    "shortest one")

    @field_validator("limits_s")
    @classmethod
    def _positive(cls, v: dict[str, float]) -> dict[str, float]:
        if not v:
            raise ValueError("at least one legal basis is needed")
        bad = sorted(k for k, s in v.items() if s <= 0)
        if bad:
            raise ValueError(f"limits must be positive: {bad}")
        return v


class CustodyTimeWarningParams(RuleParams):
    lead_s: float = Field(default=HOUR, gt=0, le=MAX_GRACE_S,
                          description="warn this long before the limit (site s)")


class NoRestBreakParams(RuleParams):
    span_s: float = Field(default=4 * HOUR, gt=0, le=MAX_GRACE_S,
                          description="longest continuous questioning (site s)")
    break_s: float = Field(default=1800.0, gt=0, le=MAX_GRACE_S,
                           description="a break must last this long to count (site s)")
    zone_kinds: frozenset[ZoneKind] = Field(
        default=frozenset(QUESTIONING_KINDS),  # type: ignore[arg-type]
        description="zone kinds where a person is being questioned")


class UnauthorizedExitParams(RuleParams):
    grace_s: float = Field(default=5.0, ge=0, le=MAX_GRACE_S)
    exit_kinds: frozenset[ZoneKind] = Field(
        default=frozenset({"exit"}),
        description="seen here at all while in custody: leaving")
    entrance_kinds: frozenset[ZoneKind] = Field(
        default=frozenset({"entrance"}),
        description="seen here after having been further inside: leaving")


class DoorHeldOpenParams(RuleParams):
    held_open_s: float | None = Field(
        default=None, gt=0, le=MAX_GRACE_S,
        description="on-delay (site s); default: the door profile's held_open_s threshold")


class EnvironmentParams(RuleParams):
    grace_s: float = Field(default=300.0, ge=0, le=MAX_GRACE_S)
    temperature_min: float | None = None  # None: the env profile's threshold
    temperature_max: float | None = None
    humidity_min: float | None = None
    humidity_max: float | None = None


class ZoneOverCapacityParams(RuleParams):
    grace_s: float = Field(default=30.0, ge=0, le=MAX_GRACE_S)


class BelongingsLeftParams(RuleParams):
    grace_s: float = Field(default=600.0, ge=0, le=MAX_GRACE_S,
                           description="counted from the release")


class ClockSkewParams(RuleParams):
    grace_s: float = Field(default=60.0, ge=0, le=MAX_GRACE_S)
    tolerance_s: float = Field(default=5.0, gt=0, le=86400,
                               description="largest |node ts - receive time|, REAL seconds "
                                           "(clocks are not accelerated by --speed)")


class PlainParams(RuleParams):
    """A rule with only the common parameters (enabled, severity, grace_s = 0)."""


# ------------------------------------------------------------------ resolution

P = TypeVar("P", bound=RuleParams)


@dataclass(frozen=True, slots=True)
class ParamSet(Generic[P]):
    """One rule's parameters: the site default and the per-zone-kind variants."""

    default: P
    by_kind: Mapping[str, P]

    def for_kind(self, kind: str | None) -> P:
        if kind is None:
            return self.default
        return self.by_kind.get(kind, self.default)

    @property
    def any_enabled(self) -> bool:
        return self.default.enabled or any(p.enabled for p in self.by_kind.values())


def resolve_params(overrides: Mapping[str, Any],
                   models: Mapping[str, type[RuleParams]]) -> dict[str, ParamSet[Any]]:
    """Validate ``site.rules`` against the rule models; raise RuleConfigError listing every
    fault.  Rules without overrides get their defaults."""
    problems: list[str] = []
    resolved: dict[str, ParamSet[Any]] = {rid: ParamSet(m(), {}) for rid, m in models.items()}
    for rule_id, raw in overrides.items():
        path = f"rules.{rule_id}"
        model = models.get(rule_id)
        if model is None:
            problems.append(f"{path}: unknown rule (known: {', '.join(sorted(models))})")
            continue
        if raw is None:
            continue
        if not isinstance(raw, Mapping):
            problems.append(f"{path}: expected a mapping of parameters (got {raw!r})")
            continue
        base = {k: v for k, v in raw.items() if k != "by_zone_kind"}
        default = _validate(model, base, path, problems)
        by_kind_raw = raw.get("by_zone_kind") or {}
        if not isinstance(by_kind_raw, Mapping):
            problems.append(f"{path}.by_zone_kind: expected a mapping of zone kinds "
                            f"(got {by_kind_raw!r})")
            continue
        by_kind: dict[str, Any] = {}
        for kind, kind_raw in by_kind_raw.items():
            kind_path = f"{path}.by_zone_kind.{kind}"
            if kind not in ZONE_KINDS:
                problems.append(f"{kind_path}: unknown zone kind (known: {', '.join(ZONE_KINDS)})")
                continue
            if not isinstance(kind_raw, Mapping):
                problems.append(f"{kind_path}: expected a mapping of parameters (got {kind_raw!r})")
                continue
            if default is None:
                continue  # the base is already reported; merged errors would repeat it
            variant = _validate(model, {**base, **kind_raw}, kind_path, problems)
            if variant is not None:
                by_kind[kind] = variant
        if default is not None:
            resolved[rule_id] = ParamSet(default, by_kind)
    if problems:
        raise RuleConfigError(problems)
    return resolved


def _validate(model: type[P], data: Mapping[str, Any], path: str,
              problems: list[str]) -> P | None:
    try:
        return model.model_validate(dict(data))
    except ValidationError as err:
        for e in err.errors():
            where = ".".join(str(p) for p in (path, *e["loc"]))
            if e["type"] == "extra_forbidden":
                known = ", ".join(sorted(model.model_fields))
                problems.append(f"{where}: unknown parameter (known: {known})")
            else:
                problems.append(f"{where}: {e['msg']} (got {e.get('input')!r})")
        return None


def describe_defaults(models: Iterable[tuple[str, type[RuleParams]]]) -> dict[str, dict[str, Any]]:
    """Every rule's default parameters as plain data (for docs and the API)."""
    return {rid: m().model_dump(mode="json") for rid, m in models}
