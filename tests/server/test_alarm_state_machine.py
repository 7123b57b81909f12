"""Property-based tests (hypothesis) of alarm management as a state machine.

Any sequence of raise / clear / ack / comment / shelve / unshelve / maintenance / shift /
guard-step / time events leaves a valid state, every operator action that succeeds leaves
its audit record, a refused one changes nothing, and a restart from the stored rows gives
back the same shelving, suppression and escalations.
"""

from __future__ import annotations

from typing import Any

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from server.alarms.lifecycle import Alarm
from server.alerts import actions
from server.errors import ServerError
from tests.server.test_alarm_support import DeskRig, actions_of, violation

KEYS = [
    ("door_forced", "door-holding-1", "holding-1"),
    ("device_offline", "camera-holding-2", "holding-2"),
    ("unattended_person", "S1", "holding-1"),
    ("panic_button", "panic-holding-1", "holding-1"),
    ("environment_out_of_range", "env-holding-2", "holding-2"),
]
USERS = [("duty1", "duty"), ("sup1", "supervisor"), ("g1", "guard"), ("g2", "guard"),
         ("tech1", "tech")]
TARGETS = [("device", "door-holding-1"), ("device", "camera-holding-2"), ("zone", "holding-1"),
           ("zone", "holding-2"), ("device", "panic-holding-1")]
STATES = {"active_unacked", "active_acked", "cleared_unacked", "cleared"}


def fingerprint(rig: DeskRig) -> Any:
    """Everything an operator action may change."""
    return ([(a.id, a.state, a.acked_by, a.shelved_until, a.suppressed_by, len(a.comments))
             for a in rig.book.all()],
            [e.to_json() for e in rig.desk.shelf.entries()],
            [e.to_json() for e in rig.desk.maintenance.entries()],
            [s.to_json() for s in rig.desk.roster.shifts()],
            sorted((d.key, d.step) for d in rig.desk.board.all_deliveries()))


class AlarmMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.rig = DeskRig()
        self.rig.act(lambda now: actions.shift_start(self.rig.desk, "g1", "guard",
                                                     ["holding-1"], "duty1", now))
        self.rig.act(lambda now: actions.shift_start(self.rig.desk, "sup1", "supervisor", [],
                                                     "duty1", now))

    def _alarm(self, index: int) -> Alarm | None:
        alarms = self.rig.book.all()
        return alarms[index % len(alarms)] if alarms else None

    def _try(self, act: Any, expect: str | None) -> None:
        """Run an operator action: success must be audited as ``expect``; a refusal must
        change nothing (the coordinator audits the refusal itself)."""
        before = fingerprint(self.rig)
        try:
            _, step = self.rig.act(act)
        except ServerError:
            assert fingerprint(self.rig) == before, "a refused action changed state"
            return
        if expect is not None:
            assert expect in actions_of(step.audit), (expect, actions_of(step.audit))
        assert all(e.user and e.action for e in step.audit)

    # ------------------------------------------------------------------ engine events

    @rule(k=st.sampled_from(KEYS), severity=st.sampled_from(["critical", "major", "minor"]))
    def raise_(self, k: tuple[str, str, str], severity: Any) -> None:
        self.rig.raise_(violation(*k, severity=severity))

    @rule(k=st.sampled_from(KEYS))
    def clear(self, k: tuple[str, str, str]) -> None:
        self.rig.clear(k[:2])

    @rule(seconds=st.sampled_from([1, 30, 61, 200, 3600, 4000]))
    def advance(self, seconds: float) -> None:
        self.rig.advance(seconds)

    # ------------------------------------------------------------------ operator actions

    @rule(i=st.integers(0, 20), user=st.sampled_from(USERS), unknown=st.booleans())
    def ack(self, i: int, user: tuple[str, str], unknown: bool) -> None:
        alarm = self._alarm(i)
        alarm_id = 999 if unknown or alarm is None else alarm.id
        self._try(lambda now: actions.ack(self.rig.desk, alarm_id, user[0], user[1], now,
                                          "ok"), "alarm_ack")

    @rule(i=st.integers(0, 20), user=st.sampled_from(USERS), text=st.sampled_from(["", "x"]))
    def comment(self, i: int, user: tuple[str, str], text: str) -> None:
        alarm = self._alarm(i)
        if alarm is not None:
            self._try(lambda now: actions.comment(self.rig.desk, alarm.id, user[0], user[1],
                                                  text, now), "alarm_comment")

    @rule(i=st.integers(0, 20), user=st.sampled_from(USERS[:2] * 3 + USERS[2:]),
          reason=st.sampled_from(["", "ok"] + ["sensor being replaced"] * 4),
          duration=st.sampled_from([0.5, 60, 60, 600, 3600, 7200, 40000]))
    def shelve(self, i: int, user: tuple[str, str], reason: str, duration: float) -> None:
        alarm = self._alarm(i)
        if alarm is not None:
            self._try(lambda now: actions.shelve(self.rig.desk, alarm.id, user[0], user[1],
                                                 reason, duration, now), "alarm_shelve")

    @rule(i=st.integers(0, 20))
    def unshelve(self, i: int) -> None:
        alarm = self._alarm(i)
        if alarm is not None:
            self._try(lambda now: actions.unshelve(self.rig.desk, alarm.id, "duty1", now),
                      "alarm_unshelve")

    @rule(where=st.sampled_from(TARGETS), start=st.booleans())
    def maintenance(self, where: tuple[Any, str], start: bool) -> None:
        kind, name = where
        if start:
            self._try(lambda now: actions.maintenance_start(self.rig.desk, kind, name, "tech1",
                                                            "work", now), "maintenance_start")
        else:
            self._try(lambda now: actions.maintenance_end(self.rig.desk, kind, name, "tech1",
                                                          now), "maintenance_end")

    @rule(guard=st.sampled_from(["g1", "g2"]),
          zones=st.sampled_from([["holding-1"], ["holding-2"], ["*"], []]), end=st.booleans())
    def shift(self, guard: str, zones: list[str], end: bool) -> None:
        if end:
            self._try(lambda now: actions.shift_end(self.rig.desk, guard, "duty1", now),
                      "shift_end")
        else:
            self._try(lambda now: actions.shift_start(self.rig.desk, guard, "guard", zones,
                                                      "duty1", now), "shift_start")

    @rule(i=st.integers(0, 20), guard=st.sampled_from(["g1", "g2"]),
          step=st.sampled_from(["delivered", "seen", "acknowledged", "arrived", "resolved"]))
    def guard_step(self, i: int, guard: str, step: str) -> None:
        alarm = self._alarm(i)
        if alarm is not None:
            expect = {"arrived": "guard_arrived", "resolved": "guard_resolved"}.get(step)
            self._try(lambda now: actions.guard_step(self.rig.desk, alarm.id, guard, step,
                                                     now, note="n"), expect)

    @precondition(lambda self: len(self.rig.book.all()) > 0)
    @rule()
    def restart(self) -> None:
        before = fingerprint(self.rig)
        running = {i for i, e in self.rig.desk.board.escalations.items() if e.running}
        self.rig = self.rig.restored()
        after = fingerprint(self.rig)
        assert after[0] == before[0] and after[1:4] == before[1:4]
        restored = {i for i, e in self.rig.desk.board.escalations.items() if e.running}
        assert restored == running

    # ------------------------------------------------------------------ invariants

    @invariant()
    def one_open_alarm_per_key(self) -> None:
        keys = [a.key for a in self.rig.book.open()]
        assert len(keys) == len(set(keys))

    @invariant()
    def states_are_consistent(self) -> None:
        for a in self.rig.book.all():
            assert a.state in STATES
            assert (a.cleared_at is None) == a.active
            assert (a.acked_by is not None) == a.acked == (a.acked_at is not None)

    @invariant()
    def open_alarms_follow_the_engine(self) -> None:
        for a in self.rig.book.open():
            assert a.active == (a.key in self.rig.active)
        for key in self.rig.active:
            alarm = self.rig.book.by_key(key)
            assert alarm is not None and alarm.active

    @invariant()
    def flags_follow_shelf_and_maintenance(self) -> None:
        desk = self.rig.desk
        for a in self.rig.book.open():
            entry = desk.shelf.get(a.key)
            assert a.shelved_until == (entry.until if entry else None)
            assert a.suppressed_by == desk.maintenance.suppression(a.rule, a.subject, a.zone)
            if a.rule == "panic_button" or a.subject == "S1":
                assert a.suppressed_by is None  # never suppressed by design
            if a.rule == "panic_button":
                assert a.shelved_until is None  # never shelved (site policy)

    @invariant()
    def escalations_only_for_unacked_announced_alarms(self) -> None:
        for alarm_id, esc in self.rig.desk.board.escalations.items():
            if esc.running:
                a = self.rig.book.get(alarm_id)
                assert not a.acked and a.annunciated, (a, esc)

    @invariant()
    def stored_rows_mirror_the_desk(self) -> None:
        desk, rig = self.rig.desk, self.rig
        assert [d for _, d in rig.rows_of("shelf")] == sorted(
            (e.to_json() for e in desk.shelf.entries()), key=lambda d: f"{d['rule']}|"
                                                                      f"{d['subject']}")
        assert {k for k, _ in rig.rows_of("maintenance")} == {
            e.key for e in desk.maintenance.entries()}
        assert {k for k, _ in rig.rows_of("shift")} == {s.user for s in desk.roster.shifts()}


AlarmMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40,
                                          deadline=None,
                                          suppress_health_check=[HealthCheck.too_slow])
test_alarm_management_state_machine = AlarmMachine.TestCase
