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


FAULT_KINDS_LATER = frozenset({"black", "frozen", "occluded", "stale"})

VERBS: dict[str, frozenset[str]] = {  # verb -> the companion keys it allows (and needs)
    "intake": frozenset(), "release": frozenset(), "search": frozenset(),
    "tamper": frozenset(), "store_belongings": frozenset(), "return_belongings": frozenset(),
    "move": frozenset({"to"}), "device": frozenset({"set"}), "fault": frozenset({"kind"}),
    "press": frozenset(), "door": frozenset({"state"}),
}
COMPANIONS = frozenset().union(*VERBS.values())


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
        if present != VERBS[verb]:
            need = ", ".join(sorted(VERBS[verb])) or "nothing else"
            raise ValueError(f"{verb!r} takes {need}; got {sorted(present) or 'nothing'}")
        if verb == "fault" and data.get("kind") in FAULT_KINDS_LATER:
            raise ValueError(f"fault kind {data['kind']} arrives with issue #6 "
                             "(offline and restore work now)")
        return data

    @property
    def verb(self) -> str:
        return next(v for v in VERBS if getattr(self, v) is not None)

    @property
    def people(self) -> list[str]:
        """The people this step names."""
        if self.move is not None:
            return [self.move] if isinstance(self.move, str) else list(self.move)
        for verb in ("intake", "release", "search", "tamper", "store_belongings",
                     "return_belongings"):
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

    @model_validator(mode="after")
    def _shape(self) -> Expectation:
        verbs = [v for v in ("alarm", "no_alarm", "cleared") if getattr(self, v) is not None]
        if len(verbs) != 1:
            raise ValueError(f"an expectation is exactly one of alarm, no_alarm, cleared; "
                             f"found {verbs or 'none'}")
        rule = self.rule
        if rule not in RULES:
            raise ValueError(f"unknown rule {rule!r}; rules: {', '.join(sorted(RULES))}")
        if self.between is not None and (self.alarm is None or self.between[0] > self.between[1]):
            raise ValueError("between [t1, t2] belongs to an alarm expectation, with t1 <= t2")
        if (self.cleared is None) != (self.by is None):
            raise ValueError("cleared needs by (and only cleared takes by)")
        if self.no_alarm is not None and (self.subject or self.severity):
            raise ValueError("no_alarm takes only an optional zone")
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
    subjects = set(s.people) | set(devices) | {n.id for n in site.nodes}
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
        suspect_only = ("intake", "release", "tamper", "store_belongings", "return_belongings",
                        "search")
        if step.verb in suspect_only:
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
        if step.press is not None:
            need_device(loc, step.press, "panic")
        if step.door is not None:
            need_device(loc, step.door, "door")
    for i, e in enumerate(s.expect):
        if e.zone is not None and e.zone not in zones:
            problems.append((("expect", i, "zone"), f"unknown zone {e.zone!r}"))
        if e.subject is not None and e.subject not in subjects:
            problems.append((("expect", i, "subject"),
                             f"unknown subject {e.subject!r} (a person, device or node)"))
    return problems


def load_scenario(path: str | Path, profiles: ProfileSet | None = None) -> ScenarioPlan:
    """Parse and check a scenario file; raise ConfigError (file:line: field: message)."""
    path = Path(path)
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
