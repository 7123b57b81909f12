"""Scenario files (CONTRACT.md "Scenario files"): parsed and fully checked before anything runs.

Two passes, both reported as ``file:line: field: message``:

1. shape (pydantic, ``extra="forbid"``): verbs, their companions, durations (``90s``,
   ``15m``, ``12h``, ``1h30m``), rule ids, fault kinds;
2. references against the site: every person, zone and device a step or an expectation
   names must exist (and be of the right kind: ``press`` needs a panic button).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from protocol.config import ConfigError, StrictModel, _line_of, load_yaml_model, read_yaml
from protocol.profiles import ProfileSet, load_profiles
from protocol.site import SiteConfig, load_site

RULES = frozenset({
    "unattended_person", "search_skipped", "camera_fault", "recording_not_running",
    "single_officer_questioning", "female_search_without_female_officer",
    "separation_violation", "juvenile_without_guardian", "custody_time_warning",
    "custody_time_exceeded", "no_rest_break", "unauthorized_exit", "door_held_open",
    "door_forced", "panic_button", "environment_out_of_range", "smoke_detected",
    "zone_over_capacity", "belongings_left", "node_offline", "device_offline",
    "device_stale", "tag_tamper", "tag_low_battery", "clock_skew",
})
"""Stable rule ids of DESIGN.md "Zone safety rules"."""

_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$")


def parse_duration(value: Any) -> float:
    """``90s``, ``15m``, ``12h``, ``1h30m`` or a bare number of seconds -> seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration like 90s, 15m, 12h or 1h30m")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    match = _DURATION.match(str(value).strip()) if isinstance(value, str) else None
    if not match or not any(match.groups()):
        raise ValueError(f"a duration like 90s, 15m, 12h or 1h30m, got {value!r}")
    h, m, s = (float(g) if g else 0.0 for g in match.groups())
    return h * 3600 + m * 60 + s


Duration = Annotated[float, BeforeValidator(parse_duration)]
PersonId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,47}$")]
Role = Literal["suspect", "officer", "guard", "guardian", "lawyer", "visitor"]
CustodyBasis = Literal[
    "criminal_summons", "criminal_summons_extended", "administrative_questioning",
    "administrative_questioning_extended", "continued_questioning",
    "continued_questioning_extended",
]
Scalar = bool | int | float | str


class Person(StrictModel):
    role: Role
    sex: Literal["male", "female"]
    age: int | None = Field(default=None, ge=0, le=130)
    case: str | None = None
    custody: CustodyBasis | None = None
    name: str | None = None

    @model_validator(mode="after")
    def _suspect(self) -> Person:
        if self.role == "suspect" and (self.age is None or self.custody is None):
            raise ValueError("a suspect needs age and custody (its legal basis)")
        if self.role != "suspect" and (self.custody is not None or self.case is not None):
            raise ValueError("only a suspect has custody and case")
        return self


# Fault kinds beyond offline/restore, by the profiles they apply to (issue #6): picture
# faults for cameras; stale (and frozen) for a recorder is "says recording, not growing".
FAULT_KINDS_BY_PROFILE: dict[str, frozenset[str]] = {
    "black": frozenset({"camera"}), "occluded": frozenset({"camera"}),
    "frozen": frozenset({"camera", "recorder"}), "stale": frozenset({"camera", "recorder"}),
}


def parse_offset(value: Any) -> float:
    """A signed duration (``+10s``, ``-3s``, ``10s``, a number) -> seconds."""
    if isinstance(value, str) and value.strip().startswith(("+", "-")):
        text = value.strip()
        return (-1.0 if text[0] == "-" else 1.0) * parse_duration(text[1:])
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return parse_duration(value)


Offset = Annotated[float, BeforeValidator(parse_offset)]

# verb -> (companion keys it needs, companion keys it may have)
VERBS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "intake": (frozenset(), frozenset()), "release": (frozenset(), frozenset()),
    "search": (frozenset(), frozenset()), "tamper": (frozenset(), frozenset()),
    "store_belongings": (frozenset(), frozenset()),
    "return_belongings": (frozenset(), frozenset()),
    "move": (frozenset({"to"}), frozenset()), "device": (frozenset({"set"}), frozenset()),
    "fault": (frozenset({"kind"}), frozenset()), "press": (frozenset(), frozenset()),
    "door": (frozenset({"state"}), frozenset()),
    # Additions (docs/scenarios.md "Verbs"): custody operations of the duty desk, tags,
    # and faults of whole nodes and clocks.
    "outing": (frozenset({"minutes"}), frozenset({"reason"})),
    "outing_end": (frozenset(), frozenset()),
    "transfer": (frozenset(), frozenset({"destination", "reason"})),
    "tag_check": (frozenset(), frozenset()), "battery_low": (frozenset(), frozenset()),
    "leave": (frozenset(), frozenset()), "silence": (frozenset(), frozenset()),
    "stop_node": (frozenset(), frozenset()), "start_node": (frozenset(), frozenset()),
    "skew_clock": (frozenset(), frozenset()),
}
COMPANIONS = frozenset().union(*(need | may for need, may in VERBS.values()))
PERSON_VERBS = ("intake", "release", "search", "tamper", "store_belongings",
                "return_belongings", "outing", "outing_end", "transfer", "tag_check",
                "battery_low")
SUSPECT_VERBS = frozenset({"intake", "release", "tamper", "store_belongings",
                           "return_belongings", "search", "outing", "outing_end", "transfer"})
GROUP_VERBS = ("move", "leave")


class Step(StrictModel):
    at: Duration
    intake: PersonId | None = None
    release: PersonId | None = None
    search: PersonId | None = None
    tamper: PersonId | None = None
    store_belongings: PersonId | None = None
    return_belongings: PersonId | None = None
    move: PersonId | list[PersonId] | None = None
    to: str | None = None
    device: str | None = None
    set: dict[str, Scalar] | None = None
    fault: str | None = None
    kind: Literal["offline", "black", "frozen", "occluded", "stale", "restore"] | None = None
    press: str | None = None
    door: str | None = None
    state: Literal["open", "closed", "forced"] | None = None
    outing: PersonId | None = None
    minutes: float | None = Field(default=None, gt=0, le=72 * 60)
    reason: str | None = Field(default=None, min_length=1, max_length=500)
    outing_end: PersonId | None = None
    transfer: PersonId | None = None
    destination: str | None = Field(default=None, min_length=1, max_length=200)
    tag_check: PersonId | None = None
    battery_low: PersonId | None = None
    leave: PersonId | list[PersonId] | None = None
    silence: str | None = None
    stop_node: str | None = None
    start_node: str | None = None
    skew_clock: Offset | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_verb(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        unknown = sorted(k for k in data if k != "at" and k not in VERBS and k not in COMPANIONS)
        if unknown:
            raise ValueError(f"unknown verb {unknown[0]!r}; verbs: {', '.join(VERBS)}")
        verbs = [k for k in data if k in VERBS]
        if len(verbs) != 1:
            raise ValueError(f"a step has exactly one verb, found {verbs or 'none'}")
        verb = verbs[0]
        present = {k for k in data if k in COMPANIONS}
        need, may = VERBS[verb]
        if not need <= present <= need | may:
            takes = ", ".join(sorted(need)) or "nothing else"
            if may:
                takes += f" (optional: {', '.join(sorted(may))})"
            raise ValueError(f"{verb!r} takes {takes}; got {sorted(present) or 'nothing'}")
        return data

    @property
    def verb(self) -> str:
        return next(v for v in VERBS if getattr(self, v) is not None)

    @property
    def people(self) -> list[str]:
        """The people this step names."""
        for verb in GROUP_VERBS:
            value = getattr(self, verb)
            if value is not None:
                return [value] if isinstance(value, str) else list(value)
        for verb in PERSON_VERBS:
            value = getattr(self, verb)
            if value is not None:
                return [value]
        return []


class Expectation(StrictModel):
    alarm: str | None = None
    no_alarm: str | None = None
    cleared: str | None = None
    between: tuple[Duration, Duration] | None = None
    by: Duration | None = None
    zone: str | None = None
    subject: str | None = None
    severity: Literal["critical", "major", "minor", "warning"] | None = None
    count: int | None = Field(default=None, ge=1, le=1000, description=(
        "alarm only: exactly this many raisings of matching alarms in the whole run"))

    @model_validator(mode="before")
    @classmethod
    def _exactly_once(cls, data: Any) -> Any:
        """``exactly_once: RULE`` is short for ``alarm: RULE, count: 1``."""
        if isinstance(data, dict) and "exactly_once" in data:
            data = dict(data)
            if "alarm" in data or "count" in data:
                raise ValueError("exactly_once is alarm with count 1: give one or the other")
            data["alarm"], data["count"] = data.pop("exactly_once"), 1
        return data

    @model_validator(mode="after")
    def _shape(self) -> Expectation:
        verbs = [v for v in ("alarm", "no_alarm", "cleared") if getattr(self, v) is not None]
        if len(verbs) != 1:
            raise ValueError(f"an expectation is exactly one of alarm, exactly_once, "
                             f"no_alarm, cleared; found {verbs or 'none'}")
        rule = self.rule
        if rule not in RULES:
            raise ValueError(f"unknown rule {rule!r}; rules: {', '.join(sorted(RULES))}")
        if self.between is not None and (self.cleared is not None
                                         or self.between[0] > self.between[1]):
            raise ValueError("between [t1, t2] belongs to an alarm or no_alarm expectation, "
                             "with t1 <= t2")
        if (self.cleared is None) != (self.by is None):
            raise ValueError("cleared needs by (and only cleared takes by)")
        if self.no_alarm is not None and self.severity:
            raise ValueError("no_alarm takes zone, subject and between, not severity")
        if self.count is not None and self.alarm is None:
            raise ValueError("count belongs to an alarm expectation")
        return self

    @property
    def verb(self) -> str:
        return "alarm" if self.alarm else "no_alarm" if self.no_alarm else "cleared"

    @property
    def rule(self) -> str:
        return str(self.alarm or self.no_alarm or self.cleared)

    @property
    def latest_s(self) -> float:
        """The scenario time after which this expectation can be judged."""
        if self.between is not None:
            return self.between[1]
        return self.by or 0.0


class Scenario(StrictModel):
    name: str
    description: str = ""
    site: str = "reference"
    speed: float = Field(default=60.0, gt=0, le=10_000)
    people: dict[PersonId, Person]
    steps: list[Step]
    expect: list[Expectation] = Field(default_factory=list)

    @property
    def end_s(self) -> float:
        """Scenario time of the last step or the latest expectation bound."""
        return max([0.0, *(s.at for s in self.steps), *(e.latest_s for e in self.expect)])


@dataclass(frozen=True, slots=True)
class ScenarioPlan:
    """A parsed and checked scenario with the site it plays on."""

    path: Path
    scenario: Scenario
    site: SiteConfig
    profiles: ProfileSet


def _site_ref(path: Path, value: str) -> str:
    candidate = path.parent / value
    return str(candidate) if value.endswith((".yaml", ".yml")) and candidate.exists() else value


def _reference_problems(s: Scenario, site: SiteConfig, profiles: ProfileSet
                        ) -> list[tuple[tuple[int | str, ...], str]]:
    zones = {z.id for z in site.zones}
    devices = {d.id: d for d in site.devices()}
    nodes = {n.id for n in site.nodes}
    subjects = set(s.people) | set(devices) | nodes | zones  # zone: separation, capacity
    problems: list[tuple[tuple[int | str, ...], str]] = []

    def need_device(loc: tuple[int | str, ...], device: str, profile: str | None = None) -> None:
        ref = devices.get(device)
        if ref is None:
            problems.append((loc, f"unknown device {device!r}"))
        elif profile is not None and ref.profile != profile:
            problems.append((loc, f"{device!r} is a {ref.profile}, not a {profile}"))

    for i, step in enumerate(s.steps):
        loc: tuple[int | str, ...] = ("steps", i, step.verb)
        for person in step.people:
            if person not in s.people:
                problems.append((loc, f"unknown person {person!r}; people: {sorted(s.people)}"))
        if step.verb in SUSPECT_VERBS:
            person = step.people[0]
            if person in s.people and s.people[person].role != "suspect":
                problems.append((loc, f"{step.verb} is for a suspect; {person} is "
                                      f"a {s.people[person].role}"))
        if step.to is not None and step.to not in zones:
            problems.append((("steps", i, "to"), f"unknown zone {step.to!r}"))
        if step.device is not None:
            need_device(loc, step.device)
            ref = devices.get(step.device)
            if ref is not None and step.set is not None:
                unknown = sorted(set(step.set) - set(profiles[ref.profile].metrics))
                if unknown:
                    problems.append((("steps", i, "set"),
                                     f"{ref.profile} has no metrics {unknown}"))
        if step.fault is not None:
            need_device(loc, step.fault)
            ref = devices.get(step.fault)
            for_profiles = FAULT_KINDS_BY_PROFILE.get(str(step.kind))
            if ref is not None and for_profiles is not None and ref.profile not in for_profiles:
                problems.append((loc, f"fault kind {step.kind} is for a "
                                      f"{' or '.join(sorted(for_profiles))}, not a {ref.profile}"))
        if step.press is not None:
            need_device(loc, step.press, "panic")
        if step.door is not None:
            need_device(loc, step.door, "door")
        if step.silence is not None:
            need_device(loc, step.silence)
        for node in (step.stop_node, step.start_node):
            if node is not None and node not in nodes:
                problems.append((loc, f"unknown node {node!r}; nodes: {sorted(nodes)}"))
    for i, e in enumerate(s.expect):
        if e.zone is not None and e.zone not in zones:
            problems.append((("expect", i, "zone"), f"unknown zone {e.zone!r}"))
        if e.subject is not None and e.subject not in subjects:
            problems.append((("expect", i, "subject"),
                             f"unknown subject {e.subject!r} (a person, device, node or zone)"))
    return problems


BUNDLED = Path(__file__).resolve().parent / "scenarios"


def bundled_scenarios() -> list[Path]:
    """The scenarios shipped with the package (docs/scenarios.md lists what each proves)."""
    return sorted(BUNDLED.glob("*.yaml"))


def resolve_scenario(ref: str | Path) -> Path:
    """A path, or the name of a bundled scenario (``busy-day``)."""
    path = Path(ref)
    if not path.exists() and path.suffix == "" and path.parent == Path("."):
        bundled = BUNDLED / f"{path.name}.yaml"
        if bundled.exists():
            return bundled
    return path


def load_scenario(path: str | Path, profiles: ProfileSet | None = None) -> ScenarioPlan:
    """Parse and check a scenario file (a path or a bundled scenario's name); raise
    ConfigError (file:line: field: message)."""
    path = resolve_scenario(path)
    scenario = load_yaml_model(path, Scenario)
    profiles = profiles or load_profiles()
    site = load_site(_site_ref(path, scenario.site), profiles)
    problems = _reference_problems(scenario, site, profiles)
    if problems:
        _, root = read_yaml(path)
        raise ConfigError(path, [f"{_line_of(root, loc) or '?'}: "
                                 f"{'.'.join(str(p) for p in loc)}: {msg}"
                                 for loc, msg in problems])
    return ScenarioPlan(path=path, scenario=scenario, site=site, profiles=profiles)
