"""Shelving (timed, with a reason, limited by role, audited, automatically undone) and
suppression by design for devices and zones in maintenance."""

from __future__ import annotations

import pytest

from server.alarms.shelving import ShelveRefused
from server.alerts import actions
from server.errors import NotFound
from tests.server.test_alarm_support import T0, DeskRig, actions_of, violation

DOOR = ("door_forced", "door-holding-1", "holding-1")
CAMERA = ("device_offline", "camera-holding-1", "holding-1")
PERSON = ("unattended_person", "S1", "holding-1")
PANIC = ("panic_button", "panic-holding-1", "holding-1")


def test_shelve_policy_refusals() -> None:
    """No reason, longer than the role's maximum, a role without the right, a rule the
    site never shelves: refused with a clear message, nothing changed."""
    rig = DeskRig()
    rig.raise_(violation(*DOOR), violation(*PANIC))
    door, panic = rig.book.by_key(DOOR[:2]), rig.book.by_key(PANIC[:2])
    assert door is not None and panic is not None
    cases = [(door.id, "duty", "", 600, "reason"),
             (door.id, "duty", "replacing the lock", 7200, "at most 3600"),
             (door.id, "guard", "replacing the lock", 60, "may not shelve"),
             (panic.id, "supervisor", "testing", 60, "may not be shelved")]
    for alarm_id, role, reason, duration, message in cases:
        with pytest.raises(ShelveRefused, match=message):
            rig.act(lambda now, a=alarm_id, r=role, why=reason, d=duration: actions.shelve(
                rig.desk, a, "u1", r, why, d, now))
    assert rig.desk.shelf.entries() == [] and not door.shelved
    with pytest.raises(NotFound):
        rig.act(lambda now: actions.shelve(rig.desk, 999, "u1", "duty", "why not", 60, now))


def test_shelve_then_auto_unshelve() -> None:
    """A shelved alarm is flagged (until, by, reason), stops being announced (its
    escalation stops); when the time is up it comes back by itself ("unshelved" by
    system) and the automatic unshelve is audited."""
    rig = DeskRig()
    rig.act(lambda now: actions.shift_start(rig.desk, "g1", "guard", ["holding-1"], "d", now))
    rig.raise_(violation(*DOOR))
    door = rig.book.by_key(DOOR[:2])
    assert door is not None and rig.desk.board.escalations[door.id].running
    entry, step = rig.act(lambda now: actions.shelve(rig.desk, door.id, "duty1", "duty",
                                                     "lock being replaced", 600, now))
    assert entry.until == T0 + 600
    assert [c.action for c in step.changes] == ["shelved"]
    assert actions_of(step.audit) == ["alarm_shelve"]
    assert door.shelved and door.shelved_by == "duty1" and not door.annunciated
    assert not rig.desk.board.escalations[door.id].running
    assert rig.desk.next_due() == T0 + 600
    step = rig.advance(600)
    assert [(c.action, c.by) for c in step.changes] == [("unshelved", "system")]
    assert actions_of(step.audit) == ["alarm_unshelve_auto"]
    assert not door.shelved and door.annunciated
    assert rig.desk.board.escalations[door.id].running  # announced again, escalating again


def test_shelving_is_per_point_not_per_occurrence() -> None:
    """A condition that clears and comes back (even as a new alarm after the old one was
    closed) stays shelved until the shelf's time is up."""
    rig = DeskRig()
    rig.raise_(violation(*DOOR))
    first = rig.book.by_key(DOOR[:2])
    assert first is not None
    rig.act(lambda now: actions.shelve(rig.desk, first.id, "sup", "supervisor", "known fault",
                                       3600, now))
    rig.clear(DOOR[:2])
    rig.act(lambda now: actions.ack(rig.desk, first.id, "duty1", "duty", now))
    assert first.closed
    [raised] = rig.raise_(violation(*DOOR)).changes
    assert raised.alarm.id != first.id and raised.alarm.shelved
    unshelved, step = rig.act(lambda now: actions.unshelve(rig.desk, raised.alarm.id, "sup",
                                                           now))
    assert not unshelved.shelved and actions_of(step.audit) == ["alarm_unshelve"]


def test_maintenance_suppresses_device_alarms_but_keeps_them() -> None:
    """A device (or its zone) in maintenance: its alarms are still raised and stored but
    flagged suppressed and not sent to anyone; a person's alarm and a panic button in the
    same zone are never suppressed; lifting maintenance announces what is still active."""
    rig = DeskRig()
    rig.act(lambda now: actions.shift_start(rig.desk, "g1", "guard", ["holding-1"], "d", now))
    _, step = rig.act(lambda now: actions.maintenance_start(
        rig.desk, "zone", "holding-1", "tech1", "rewiring", now))
    assert actions_of(step.audit) == ["maintenance_start"]
    assert rig.twin.devices["camera-holding-1"].maintenance
    changes = rig.raise_(violation(*CAMERA), violation(*PERSON), violation(*PANIC)).changes
    by_rule = {c.alarm.rule: c.alarm for c in changes}
    assert by_rule["device_offline"].suppressed_by == "zone:holding-1"
    assert by_rule["unattended_person"].suppressed_by is None
    assert by_rule["panic_button"].suppressed_by is None
    sent_rules = {rig.book.get(a).rule for a, _, _ in rig.sent}
    assert sent_rules == {"unattended_person", "panic_button"}
    _, step = rig.act(lambda now: actions.maintenance_end(rig.desk, "zone", "holding-1",
                                                          "tech1", now))
    assert [c.action for c in step.changes] == ["unsuppressed"]
    assert not rig.twin.devices["camera-holding-1"].maintenance
    assert (by_rule["device_offline"].id, "g1", 0) in rig.sent
    with pytest.raises(NotFound):
        rig.act(lambda now: actions.maintenance_end(rig.desk, "zone", "holding-1", "t", now))
    with pytest.raises(NotFound):
        rig.act(lambda now: actions.maintenance_start(rig.desk, "device", "nope", "t", "x",
                                                      now))


def test_planned_maintenance_ends_by_itself() -> None:
    """Maintenance with a planned end is lifted at that time, audited as automatic."""
    rig = DeskRig()
    rig.act(lambda now: actions.maintenance_start(rig.desk, "device", "camera-holding-1",
                                                  "tech1", "firmware", now, until=now + 300))
    rig.raise_(violation(*CAMERA))
    step = rig.advance(300)
    assert [c.action for c in step.changes] == ["unsuppressed"]
    assert actions_of(step.audit) == ["maintenance_end_auto"]
