"""Doors, panic buttons, environment and smoke on a virtual clock
(server/rules/physical.py, environment.py), including devices we can no longer hear."""

from __future__ import annotations

import pytest

from tests.server.test_rules_support import Floor, site_with_rules

EPS = 1e-6


def centre(site_rules: dict[str, object] | None = None) -> Floor:
    floor = Floor(site=site_with_rules(site_rules)) if site_rules else Floor()
    floor.birth_everything()
    return floor


# ---------------------------------------------------------------------- doors


def test_door_held_open_after_profile_threshold() -> None:
    """The door profile's held_open_s is 60: open at t=10 → nothing at 70-ε, minor at 70+ε;
    closing clears it."""
    floor = centre()
    floor.at(10).set("door-holding-1", open=True)
    assert floor.evaluate().next_due == pytest.approx(floor.now + 60)
    assert floor.at(70 - EPS).keys() == set()
    v = floor.at(70 + EPS).evaluate().active[("door_held_open", "door-holding-1")]
    assert (v.zone, v.severity) == ("holding-1", "minor")
    assert v.message_en == "Holding 1: door door-holding-1 held open over 60 s"
    floor.set("door-holding-1", open=False)
    assert floor.keys() == set()


def test_door_held_open_threshold_per_zone_kind() -> None:
    """by_zone_kind.entrance.held_open_s: 300 lengthens it at the entrance only."""
    floor = centre({"door_held_open": {"by_zone_kind": {"entrance": {"held_open_s": 300}}}})
    floor.set("door-entrance", open=True)
    floor.set("door-holding-2", open=True)
    assert floor.at(61).keys() == {("door_held_open", "door-holding-2")}
    assert floor.at(301).keys() == {("door_held_open", "door-holding-2"),
                                    ("door_held_open", "door-entrance")}


def test_door_held_open_not_timed_on_a_stale_value() -> None:
    """A door controller lost while open: door_held_open stops (device_offline reports the
    door); back online and still open, the 60 s start over."""
    floor = centre()
    floor.set("door-holding-1", open=True)
    floor.at(30).lose("door-holding-1")
    assert floor.at(100).keys() == {("device_offline", "door-holding-1")}
    floor.set("door-holding-1", open=True)
    assert floor.at(160 - EPS).keys() == set()
    assert floor.at(160 + EPS).keys() == {("door_held_open", "door-holding-1")}


def test_door_forced_event_latches_through_an_outage() -> None:
    """A door_forced event without metrics raises door_forced at once (critical); the
    gateway dying does not clear it (last known, said in the message); a fresh report of
    forced=false after the rebirth does."""
    floor = centre()
    floor.at(5).event("door-exit", "door_forced")
    v = floor.evaluate().active[("door_forced", "door-exit")]
    assert (v.severity, v.zone) == ("critical", "exit")
    assert v.message_zh == "出口: 门 door-exit 被强行打开"
    floor.at(10).kill_node("gw-1")
    v = floor.evaluate().active[("door_forced", "door-exit")]
    assert v.message_en == "Exit: door door-exit forced open (device offline, last known)"
    floor.at(20).birth_node("gw-1", devices=False)
    assert ("door_forced", "door-exit") in floor.keys()
    floor.birth_device("door-exit", open=False, locked=True, forced=False)
    assert floor.keys("door_forced") == set()


def test_panic_button_pressed_and_reset() -> None:
    """panic_pressed (event only) raises panic_button at once; panic_reset clears it; the
    metric works the same way."""
    floor = centre()
    floor.event("panic-interrogation-3", "panic_pressed")
    v = floor.evaluate().active[("panic_button", "panic-interrogation-3")]
    assert (v.severity, v.message_en) == ("critical", "Interrogation 3: panic button "
                                                      "panic-interrogation-3 pressed")
    floor.at(30).event("panic-interrogation-3", "panic_reset")
    assert floor.keys() == set()
    floor.set("panic-holding-2", pressed=True)
    assert floor.keys() == {("panic_button", "panic-holding-2")}


# ---------------------------------------------------------------------- environment, smoke


def test_environment_out_of_range_only_in_an_occupied_room() -> None:
    """holding-1 at 34 °C: nothing while empty; occupied from t=100 → minor at 400+ε (300 s
    grace) naming the value and the profile's limit; back in range clears it."""
    floor = centre()
    floor.set("env-holding-1", temperature=34.0, humidity=50.0)
    assert floor.at(1000).keys() == set()
    floor.person("G1", role="guard")
    floor.at(1100).move("holding-1", "G1")
    assert floor.at(1400 - EPS).keys() == set()
    v = floor.at(1400 + EPS).evaluate().active[("environment_out_of_range", "env-holding-1")]
    assert v.message_en == ("Holding 1: environment out of range, temperature 34°C above "
                            "30°C")
    assert v.details == {"temperature": 34.0}
    floor.set("env-holding-1", temperature=24.0)
    assert floor.keys() == set()


def test_environment_site_limits_override_profile_and_stale_sensor_is_silent() -> None:
    """Site humidity_max 60 raises 70 %RH; a stale sensor's last values raise nothing here
    (device_stale covers it)."""
    floor = centre({"environment_out_of_range": {"humidity_max": 60, "grace_s": 0}})
    floor.person("G1", role="guard")
    floor.move("holding-2", "G1")
    floor.set("env-holding-2", temperature=22.0, humidity=70.0)
    assert floor.keys() == {("environment_out_of_range", "env-holding-2")}
    floor.twin.devices["env-holding-2"].status = "stale"
    assert floor.keys("environment_out_of_range") == set()


def test_smoke_anywhere_latches_while_detector_silent() -> None:
    """Smoke in an empty corridor raises at once (critical); the detector lost keeps it;
    reborn reporting no smoke clears it."""
    floor = centre()
    floor.set("smoke-corridor-a", smoke=True)
    v = floor.evaluate().active[("smoke_detected", "smoke-corridor-a")]
    assert (v.severity, v.zone) == ("critical", "corridor-a")
    floor.at(10).lose("smoke-corridor-a")
    assert ("smoke_detected", "smoke-corridor-a") in floor.keys()
    floor.birth_device("smoke-corridor-a", smoke=False, fault=False)
    assert floor.keys() == set()
