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


def test_picture_fault_kinds_are_for_cameras(tmp_path: Path) -> None:
    """Picture faults (issue #6) parse for a camera; on another device the error names the
    step and the devices the kind is for."""
    path = tmp_path / "ok.yaml"
    path.write_text(BASE + "  - {at: 5s, fault: camera-entrance, kind: frozen}\n"
                    "  - {at: 9s, fault: recorder-inquiry-1, kind: stale}\n")
    assert load_scenario(path).scenario.steps[1].kind == "frozen"
    lines = _errors(tmp_path, BASE + "  - {at: 5s, fault: door-entrance, kind: black}\n")
    assert ":8: steps.1" in lines[0] and "fault kind black is for a camera, not a door" in lines[0]


def test_verb_companions_are_checked(tmp_path: Path) -> None:
    """move needs to; cleared needs by."""
    assert "'move' takes to" in _errors(tmp_path, BASE + "  - {at: 5s, move: S1}\n")[0]
    lines = _errors(tmp_path, BASE + "expect:\n  - {cleared: unattended_person}\n")
    assert ":9: expect.0" in lines[0] and "cleared needs by" in lines[0]


def test_bundled_scenarios_parse_and_resolve_by_name() -> None:
    """Every bundled scenario is valid against the reference site and loads by its name."""
    from simulators.scenario import bundled_scenarios
    paths = bundled_scenarios()
    assert len(paths) >= 10
    for path in paths:
        plan = load_scenario(path.stem)
        assert plan.path == path and plan.scenario.name == path.stem


def test_added_verbs_and_their_companions(tmp_path: Path) -> None:
    """outing needs minutes (reason optional), transfer takes destination and reason,
    leave takes a group; each is checked against the people, devices and nodes."""
    ok = BASE + ("  - {at: 5s, outing: S1, minutes: 30, reason: hospital}\n"
                 "  - {at: 6s, outing_end: S1}\n"
                 "  - {at: 7s, transfer: S1, destination: 看守所}\n"
                 "  - {at: 8s, leave: [S1, O1]}\n"
                 "  - {at: 9s, tag_check: O1}\n"
                 "  - {at: 9s, battery_low: O1}\n"
                 "  - {at: 10s, silence: reader-info-1}\n"
                 "  - {at: 11s, stop_node: edge-common}\n"
                 "  - {at: 12s, start_node: edge-common}\n"
                 "  - {at: 13s, skew_clock: -3s}\n")
    path = tmp_path / "ok.yaml"
    path.write_text(ok)
    steps = load_scenario(path).scenario.steps
    assert [s.verb for s in steps[1:]] == [
        "outing", "outing_end", "transfer", "leave", "tag_check", "battery_low", "silence",
        "stop_node", "start_node", "skew_clock"]
    assert steps[4].people == ["S1", "O1"] and steps[-1].skew_clock == -3.0
    assert "'outing' takes minutes (optional: reason)" in _errors(
        tmp_path, BASE + "  - {at: 5s, outing: S1}\n")[0]
    assert "'transfer' takes nothing else (optional: destination, reason)" in _errors(
        tmp_path, BASE + "  - {at: 5s, transfer: S1, to: exit}\n")[0]


def test_added_verbs_name_their_lines(tmp_path: Path) -> None:
    """Unknown nodes, devices and people of the added verbs, and custody verbs on staff,
    are errors on their own lines before anything runs."""
    lines = _errors(tmp_path, BASE + "  - {at: 5s, stop_node: edge-cellar}\n"
                                     "  - {at: 6s, silence: reader-roof}\n"
                                     "  - {at: 7s, battery_low: X9}\n"
                                     "  - {at: 8s, outing: O1, minutes: 5}\n"
                                     "  - {at: 9s, leave: [S1, X8]}\n")
    text = "\n".join(lines)
    assert ":8: steps.1.stop_node: unknown node 'edge-cellar'" in text
    assert ":9: steps.2.silence: unknown device 'reader-roof'" in text
    assert ":10: steps.3.battery_low: unknown person 'X9'" in text
    assert ":11: steps.4.outing: outing is for a suspect; O1 is a officer" in text
    assert ":12: steps.5.leave: unknown person 'X8'" in text


def test_added_expectation_forms(tmp_path: Path) -> None:
    """exactly_once is alarm with count 1; no_alarm takes subject and between; a zone can
    be a subject (separation, capacity); count belongs to alarm only."""
    ok = BASE + ("expect:\n"
                 "  - {exactly_once: unattended_person, between: [1s, 2s]}\n"
                 "  - {alarm: zone_over_capacity, subject: holding-1, count: 2}\n"
                 "  - {no_alarm: search_skipped, subject: S1, between: [0s, 60s]}\n")
    path = tmp_path / "ok.yaml"
    path.write_text(ok)
    expect = load_scenario(path).scenario.expect
    assert (expect[0].alarm, expect[0].count) == ("unattended_person", 1)
    assert expect[2].between == (0.0, 60.0)
    assert "count belongs to an alarm" in _errors(
        tmp_path, BASE + "expect:\n  - {no_alarm: search_skipped, count: 1}\n")[0]
    assert "give one or the other" in _errors(
        tmp_path, BASE + "expect:\n  - {exactly_once: search_skipped, count: 2}\n")[0]
    assert "not severity" in _errors(
        tmp_path, BASE + "expect:\n  - {no_alarm: search_skipped, severity: major}\n")[0]
