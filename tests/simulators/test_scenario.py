"""Scenario parsing: the shared scenarios load; mistakes are found before anything runs,
each reported with the file and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from protocol.config import ConfigError
from simulators.scenario import load_scenario, parse_duration

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "scenarios"

BASE = """name: t
site: reference
people:
  S1: {role: suspect, sex: male, age: 34, case: C-1, custody: criminal_summons}
  O1: {role: officer, sex: male}
steps:
  - {at: 0s, intake: S1}
"""


def _errors(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    return info.value.lines


@pytest.mark.parametrize("name", ["unattended-person", "compliant-visit"])
def test_shared_scenarios_parse(name: str) -> None:
    """Both scenarios of the shared folder are valid against the reference site."""
    plan = load_scenario(SHARED / f"{name}.yaml")
    assert plan.scenario.name == name and plan.site.id == "reference"
    assert plan.scenario.steps and plan.scenario.expect


def test_durations() -> None:
    """90s, 15m, 12h, 1h30m and bare numbers are seconds."""
    assert [parse_duration(v) for v in ("90s", "15m", "12h", "1h30m", 5, "2.5s")] == \
        [90, 900, 43200, 5400, 5, 2.5]
    for bad in ("1d", "m", "", "-5s", True):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_unknown_verb_names_its_line(tmp_path: Path) -> None:
    """An unknown verb is an error on its own line (line 8 here)."""
    lines = _errors(tmp_path, BASE + "  - {at: 5s, teleport: S1}\n")
    assert len(lines) == 1 and lines[0].startswith(f"{tmp_path / 's.yaml'}:8: steps.1")
    assert "unknown verb 'teleport'" in lines[0]


def test_unknown_zone_and_person_name_their_lines(tmp_path: Path) -> None:
    """Unknown people and zones are found against the site, each on its line."""
    lines = _errors(tmp_path, BASE + "  - {at: 5s, move: [S1, X9], to: entrance}\n"
                                     "  - {at: 6s, move: O1, to: basement}\n")
    assert any(":8: steps.1.move: unknown person 'X9'" in line for line in lines)
    assert any(":9: steps.2.to: unknown zone 'basement'" in line for line in lines)


def test_device_kind_metrics_and_rules_are_checked(tmp_path: Path) -> None:
    """press needs a panic button, set needs the profile's metrics, rules must exist."""
    lines = _errors(tmp_path, BASE + "  - {at: 5s, press: door-holding-1}\n"
                                     "  - {at: 6s, device: recorder-inquiry-1, set: {rec: true}}\n"
                                     "expect:\n  - {alarm: nap_time, between: [1s, 2s]}\n")
    text = "\n".join(lines)
    assert ":11: expect.0: " in text and "unknown rule 'nap_time'" in text
    # The shape error stops the load before the reference pass; fix it and look again.
    lines = _errors(tmp_path, BASE + "  - {at: 5s, press: door-holding-1}\n"
                                     "  - {at: 6s, device: recorder-inquiry-1, set: {rec: true}}\n")
    assert any(":8: steps.1.press: 'door-holding-1' is a door, not a panic" in x for x in lines)
    assert any(":9: steps.2.set: recorder has no metrics ['rec']" in x for x in lines)


def test_later_fault_kinds_are_refused_with_a_pointer(tmp_path: Path) -> None:
    """Picture faults are not simulated yet: the message says when they arrive."""
    lines = _errors(tmp_path, BASE + "  - {at: 5s, fault: camera-entrance, kind: frozen}\n")
    assert ":8: steps.1" in lines[0] and "fault kind frozen arrives with issue #6" in lines[0]


def test_verb_companions_are_checked(tmp_path: Path) -> None:
    """move needs to; cleared needs by."""
    assert "'move' takes to" in _errors(tmp_path, BASE + "  - {at: 5s, move: S1}\n")[0]
    lines = _errors(tmp_path, BASE + "expect:\n  - {cleared: unattended_person}\n")
    assert ":9: expect.0" in lines[0] and "cleared needs by" in lines[0]
