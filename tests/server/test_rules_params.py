"""Per-site rule parameters (site.rules): overrides take effect, typos are rejected."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from server.rules import CATALOGUE, RuleConfigError, RuleEngine, resolve_site_rules
from server.rules.params import resolve_params
from tests.server.test_rules_support import Floor, site_with_rules

EPS = 1e-6
MODELS = {r.id: r.params for r in CATALOGUE}


def unattended_floor(rules: Mapping[str, Any], zone: str) -> Floor:
    """S1 (searched) alone in ``zone`` from t=0."""
    return Floor(site=site_with_rules(rules)).alone(zone)


def test_site_override_changes_grace_and_severity() -> None:
    """unattended_person with grace_s 45 and severity major: not at 45-ε, major at 45+ε."""
    floor = unattended_floor({"unattended_person": {"grace_s": 45, "severity": "major"}},
                             "info-1")
    assert floor.at(45 - EPS).keys() == set()
    v = floor.at(45 + EPS).evaluate().active[("unattended_person", "S1")]
    assert v.severity == "major"


def test_zone_kind_override_applies_to_that_kind_only() -> None:
    """by_zone_kind.holding.grace_s 120 lengthens the grace in holding rooms only; the
    site-level value still applies elsewhere."""
    rules = {"unattended_person": {"grace_s": 20, "by_zone_kind": {"holding": {"grace_s": 120}}}}
    holding = unattended_floor(rules, "holding-5")
    assert holding.at(119).keys() == set()
    assert holding.at(121).keys() == {("unattended_person", "S1")}
    info = unattended_floor(rules, "info-1")
    assert info.at(21).keys() == {("unattended_person", "S1")}


def test_rule_can_be_disabled_per_zone_kind() -> None:
    """enabled: false for a zone kind silences the rule there, and only there."""
    rules = {"unattended_person": {"by_zone_kind": {"lawyer_meeting": {"enabled": False}}}}
    assert unattended_floor(rules, "lawyer-1").at(3600).keys() == set()
    assert unattended_floor(rules, "info-1").at(31).keys() == {("unattended_person", "S1")}


def test_typo_in_parameter_names_rule_and_parameter() -> None:
    """A misspelt parameter fails at engine construction, naming the rule, the parameter and
    what is known."""
    site = site_with_rules({"unattended_person": {"grace": 45}})
    with pytest.raises(RuleConfigError) as err:
        RuleEngine(site)
    assert err.value.problems == [
        "rules.unattended_person.grace: unknown parameter (known: enabled, grace_s, severity)"]


def test_every_fault_is_reported_with_its_path() -> None:
    """Unknown rule, unknown zone kind, wrong type and a typo inside by_zone_kind are all
    reported in one error, each with its path."""
    with pytest.raises(RuleConfigError) as err:
        resolve_params({
            "unatended_person": {"grace_s": 1},
            "search_skipped": {"grace_s": "soon"},
            "recording_not_running": {"by_zone_kind": {"cellar": {"grace_s": 1},
                                                       "inquiry": {"grace_z": 1}}},
            "node_offline": {"severity": "urgent"},
        }, MODELS)
    problems = err.value.problems
    assert problems[0].startswith("rules.unatended_person: unknown rule (known: ")
    assert problems[1].startswith("rules.search_skipped.grace_s: Input should be a valid number")
    assert problems[1].endswith("(got 'soon')")
    assert problems[2].startswith("rules.recording_not_running.by_zone_kind.cellar: "
                                  "unknown zone kind")
    assert problems[3].startswith("rules.recording_not_running.by_zone_kind.inquiry.grace_z: "
                                  "unknown parameter")
    assert problems[4].startswith("rules.node_offline.severity: Input should be")
    assert len(problems) == 5


def test_defaults_without_overrides() -> None:
    """No site.rules: every implemented rule gets the defaults of DESIGN.md."""
    params = resolve_site_rules({})
    assert params["unattended_person"].default.grace_s == 30
    assert params["search_skipped"].default.grace_s == 10
    assert params["search_skipped"].default.allowed_kinds == {"entrance", "body_check"}
    assert params["recording_not_running"].default.zone_kinds == {
        "interrogation", "inquiry", "juvenile"}
    assert params["node_offline"].default.startup_grace_s == 60
    assert {r.id: r.severity for r in CATALOGUE} == {
        "unattended_person": "critical", "search_skipped": "major",
        "recording_not_running": "critical", "camera_fault": "critical",
        "node_offline": "major",
        "device_offline": "major", "device_stale": "minor",
        "single_officer_questioning": "major", "female_search_without_female_officer": "major",
        "separation_violation": "major", "juvenile_without_guardian": "major",
        "custody_time_warning": "warning", "custody_time_exceeded": "critical",
        "no_rest_break": "minor", "unauthorized_exit": "critical", "door_held_open": "minor",
        "door_forced": "critical", "panic_button": "critical",
        "environment_out_of_range": "minor", "smoke_detected": "critical",
        "zone_over_capacity": "major", "belongings_left": "minor", "tag_tamper": "critical",
        "tag_low_battery": "warning", "clock_skew": "minor"}
