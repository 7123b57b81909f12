"""Alarm conditioning against chattering (server/alarms/conditioning.py): off-delays,
pending raw conditions, analog deadbands and the restart hold, on a virtual clock."""

from __future__ import annotations

from server.alarms.conditioning import AlarmConditioner
from server.alarms.settings import AlarmSettings, ConditioningSettings
from tests.server.test_alarm_support import PROFILES, SITE, T0, DeskRig, violation

DOOR = ("door_held_open", "door-holding-1", "holding-1")
ENV = ("environment_out_of_range", "env-holding-1", "holding-1")


def settings(**conditioning: object) -> AlarmSettings:
    base = {"default_off_delay_s": 0, "off_delay_s": {}, "deadband": {}, "restart_hold_s": 0}
    return AlarmSettings(conditioning=ConditioningSettings.model_validate(
        {**base, **conditioning}))


def test_off_delay_absorbs_a_blip() -> None:
    """A condition that disappears and returns within its off-delay changes nothing (one
    alarm, still active, no re-raise); gone for longer, the alarm clears when the delay
    ends, and next_due tells the coordinator when that is."""
    rig = DeskRig(settings(off_delay_s={"door_held_open": 10}))
    [raised] = rig.raise_(violation(*DOOR)).changes
    assert raised.action == "raised"
    assert rig.clear(DOOR[:2]).changes == []
    assert rig.desk.next_due() == T0 + 10
    assert rig.advance(5).changes == []
    assert rig.raise_(violation(*DOOR)).changes == []  # back before the delay ended
    assert rig.book.get(raised.alarm.id).count == 1
    rig.clear(DOOR[:2])
    assert rig.advance(9.9).changes == []
    [cleared] = rig.advance(0.2).changes
    assert (cleared.action, cleared.alarm.state) == ("cleared", "cleared_unacked")


def test_off_delay_is_site_time() -> None:
    """At --speed 10 a 10 s off-delay lasts 1 real second."""
    rig = DeskRig(settings(off_delay_s={"door_held_open": 10}), speed=10)
    rig.raise_(violation(*DOOR))
    rig.clear(DOOR[:2])
    [cleared] = rig.advance(1.01).changes
    assert cleared.action == "cleared"


def test_pending_raw_condition_keeps_the_alarm() -> None:
    """While the engine re-times a condition's on-delay after a blip (the key is pending),
    the alarm stays active: chatter, not a return to normal."""
    rig = DeskRig()
    rig.raise_(violation(*DOOR))
    rig.pending[DOOR[:2]] = T0
    assert rig.clear(DOOR[:2]).changes == []
    del rig.pending[DOOR[:2]]
    [cleared] = rig.advance(1).changes
    assert cleared.action == "cleared"


def _env_rig() -> DeskRig:
    rig = DeskRig(settings(deadband={"environment_out_of_range": {"temperature": 0.5}}))
    sensor = rig.twin.devices["env-holding-1"]
    sensor.status = "online"
    sensor.metrics["temperature"] = 31.0
    rig.raise_(violation(*ENV, severity="minor", temperature=31.0))
    return rig


def test_deadband_holds_an_analog_alarm_near_its_limit() -> None:
    """Temperature above its 30 °C limit: back at 29.8 (inside, but within the 0.5 °C
    deadband) the alarm stays; at 29.4 it clears."""
    rig = _env_rig()
    sensor = rig.twin.devices["env-holding-1"]
    sensor.metrics["temperature"] = 29.8
    assert rig.clear(ENV[:2]).changes == []
    sensor.metrics["temperature"] = 30.0
    assert rig.advance(1).changes == []
    sensor.metrics["temperature"] = 29.4
    [cleared] = rig.advance(1).changes
    assert cleared.action == "cleared"


def test_deadband_does_not_hold_for_other_reasons() -> None:
    """The rule stopped although the reading is still beyond the limit (the room emptied)
    or the sensor went offline: the deadband does not hold the alarm."""
    rig = _env_rig()
    assert [c.action for c in rig.clear(ENV[:2]).changes] == ["cleared"]
    rig = _env_rig()
    sensor = rig.twin.devices["env-holding-1"]
    sensor.metrics["temperature"] = 29.9
    sensor.status = "offline"
    assert [c.action for c in rig.clear(ENV[:2]).changes] == ["cleared"]


def test_restart_hold_keeps_restored_alarms() -> None:
    """Adopted (restored) active alarms stay active for restart_hold_s while the site
    reports in, then clear if nothing confirms them."""
    conditioner = AlarmConditioner(ConditioningSettings(restart_hold_s=60, off_delay_s={}),
                                   speed=1.0)
    v = violation(*DOOR)
    conditioner.adopt([v], T0)
    assert conditioner.condition({}, {}, T0 + 1) == {v.key: v}
    assert conditioner.next_due() == T0 + 60
    assert conditioner.condition({}, {}, T0 + 61) == {}


def test_analog_limits_follow_site_parameters() -> None:
    """The deadband's limits are those the rule uses: the zone kind's parameter if the site
    sets one, else the profile's threshold."""
    from server.alarms.analog import analog_limits

    site = SITE.model_copy(update={"rules": {"environment_out_of_range": {
        "by_zone_kind": {"holding": {"temperature_max": 28}}}}})
    limits = analog_limits(site, PROFILES)
    assert limits(violation(*ENV))["temperature"] == (16, 28)
    assert limits(violation("environment_out_of_range", "env-interrogation-1",
                            "interrogation-1"))["temperature"] == (16, 30)
    assert limits(violation(*DOOR)) == {}
