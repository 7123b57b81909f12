"""Alarm lifecycle: one alarm per (rule, subject) while active.

States (CONTRACT.md, after ISA-18.2 / IEC 62682)::

    (new violation) ──> active_unacked ──ack──> active_acked
                             │                      │
                          (clears)               (clears)
                             v                      v
                        cleared_unacked ──ack──> cleared   (closed: history only)
                             │
                      (condition returns)
                             v
                        active_unacked, same alarm, count + 1

* A violation whose key has an *open* alarm (active, or cleared but not yet acknowledged)
  folds into it: zone, severity and messages follow the violation ("updated" when any of
  them changed, nothing otherwise).  ``count`` is how many times the condition became
  active in this alarm: it starts at 1 and grows when the condition returns while the
  alarm is still cleared_unacked (a chattering source shows as one alarm with a count,
  not a flood).  The re-activation is reported as a "raised" change of the same id.
* Once an alarm is closed (``cleared``: acknowledged and back to normal), a return of the
  condition raises a NEW alarm with a new id; the closed one stays as history.
* Acknowledging an alarm that is already acknowledged raises AlarmAlreadyAcked (a Conflict:
  two operators acknowledging at once); an unknown id raises AlarmNotFound.
* Annunciation (ISA-18.2 §4 "shelving" and "suppressed by design"): an alarm may be
  *shelved* (an operator's timed action, per (rule, subject); see shelving.py) or
  *suppressed* because its device or zone is in maintenance (maintenance.py).  Either way
  it still follows the lifecycle above and is stored and logged; it is only not announced
  (no guard alert, no escalation, dimmed on the wall).  A ``Gate`` tells ``sync`` the
  flags of new alarms, so a raised alarm is shelved or suppressed from its first snapshot;
  ``regate`` applies later changes of the shelf or of maintenance to open alarms.

Every change is returned as an AlarmChange holding a *snapshot* of the alarm, so consumers
(store, hub, guard alerts) see the state at that transition even if they run later.
Consumers upsert alarms by id: "raised" can repeat for an id (re-activation).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

from server.errors import Conflict, NotFound, ServerError
from server.rules.types import AlarmKey, Severity, Violation

log = logging.getLogger(__name__)

AlarmState = Literal["active_unacked", "active_acked", "cleared_unacked", "cleared"]
AlarmAction = Literal["raised", "updated", "cleared", "acked", "commented", "shelved",
                      "unshelved", "suppressed", "unsuppressed"]


@dataclass(frozen=True, slots=True)
class ShelfMark:
    """What the shelf says of one (rule, subject): shelved until when, by whom, why."""

    until: float
    by: str
    reason: str


class Gate(Protocol):
    """Which open alarms are announced (implemented by the alarm desk)."""

    def shelf_mark(self, key: AlarmKey) -> ShelfMark | None: ...

    def suppression(self, rule: str, subject: str, zone: str | None) -> str | None:
        """``"device:<id>"`` / ``"zone:<id>"`` when maintenance suppresses it, else None."""
        ...


class AlarmError(ServerError):
    """Root of the alarm lifecycle's errors."""


class AlarmNotFound(AlarmError, NotFound):
    def __init__(self, alarm_id: int) -> None:
        super().__init__(f"no alarm {alarm_id}")
        self.alarm_id = alarm_id


class AlarmAlreadyAcked(AlarmError, Conflict):
    def __init__(self, alarm_id: int, by: str | None) -> None:
        super().__init__(f"alarm {alarm_id} is already acknowledged (by {by})")
        self.alarm_id = alarm_id
        self.acked_by = by


@dataclass(slots=True)
class Alarm:
    id: int
    rule: str
    subject: str
    zone: str | None
    severity: Severity
    state: AlarmState
    message_zh: str
    message_en: str
    raised_at: float
    updated_at: float
    cleared_at: float | None = None
    acked_at: float | None = None
    acked_by: str | None = None
    count: int = 1  # re-occurrences folded into this alarm
    comments: list[tuple[float, str, str]] = field(default_factory=list)  # (ts, user, text)
    shelved_until: float | None = None
    shelved_by: str | None = None
    shelve_reason: str = ""
    suppressed_by: str | None = None  # "device:<id>" / "zone:<id>" (maintenance)

    @property
    def key(self) -> AlarmKey:
        return (self.rule, self.subject)

    @property
    def active(self) -> bool:
        return self.state in ("active_unacked", "active_acked")

    @property
    def acked(self) -> bool:
        return self.state in ("active_acked", "cleared")

    @property
    def closed(self) -> bool:
        """Cleared and acknowledged: nothing left to do, a returning condition is new."""
        return self.state == "cleared"

    @property
    def shelved(self) -> bool:
        return self.shelved_until is not None

    @property
    def annunciated(self) -> bool:
        """Needs someone's attention now: open, neither shelved nor suppressed."""
        return not self.closed and self.shelved_until is None and self.suppressed_by is None

    def snapshot(self) -> Alarm:
        return replace(self, comments=list(self.comments))


@dataclass(frozen=True, slots=True)
class AlarmChange:
    """One transition, for the store (append to history), the hub and the guards."""

    alarm: Alarm
    action: AlarmAction
    at: float
    by: str | None = None


class AlarmBook:
    def __init__(self, alarms: Iterable[Alarm] = (), next_id: Callable[[], int] | None = None):
        """Restore from stored alarms (e.g. the store's open ones plus recent history).

        ``next_id`` allocates ids (e.g. the store's sequence); by default a counter starting
        after the highest restored id.  If the store holds several open alarms of one key
        (it should not), the newest one is the one violations fold into.
        """
        self._alarms: dict[int, Alarm] = {}
        self._open: dict[AlarmKey, Alarm] = {}  # not closed: active or cleared_unacked
        for alarm in sorted(alarms, key=lambda a: a.id):
            self._alarms[alarm.id] = alarm
            if not alarm.closed:
                self._open[alarm.key] = alarm
        if next_id is None:
            counter = itertools.count(max(self._alarms, default=0) + 1)
            next_id = counter.__next__
        self._next_id = next_id
        self._last_active: Mapping[AlarmKey, Violation] | None = None

    # ------------------------------------------------------------------ transitions

    def sync(self, active: Mapping[AlarmKey, Violation], now: float,
             gate: Gate | None = None) -> list[AlarmChange]:
        """Raise alarms for new violations, update re-occurring ones, clear the rest.
        ``gate`` marks a raised (or returning) alarm shelved or suppressed before its
        "raised" change is reported.

        The very mapping of the previous call (the engine and the conditioner hand back the
        same object when nothing changed) is a no-op, answered without looking: so a caller
        must not modify a mapping after passing it."""
        if active is self._last_active:
            return []
        self._last_active = active
        changes: list[AlarmChange] = []
        for key, violation in active.items():
            alarm = self._open.get(key)
            if alarm is None:
                alarm = self._raise(violation, now)
                if gate is not None:
                    self._gate(alarm, gate)
                changes.append(AlarmChange(alarm.snapshot(), "raised", now))
            elif not alarm.active:
                self._reactivate(alarm, violation, now)
                if gate is not None:
                    self._gate(alarm, gate)
                changes.append(AlarmChange(alarm.snapshot(), "raised", now))
            elif self._follow(alarm, violation, now):
                changes.append(AlarmChange(alarm.snapshot(), "updated", now))
        for key, alarm in list(self._open.items()):
            if alarm.active and key not in active:
                self._clear(alarm, now)
                changes.append(AlarmChange(alarm.snapshot(), "cleared", now))
        return changes

    def ack(self, alarm_id: int, user: str, now: float, comment: str = "") -> AlarmChange:
        """Acknowledge; an optional comment is stored with it.  Raises AlarmNotFound,
        AlarmAlreadyAcked."""
        alarm = self.get(alarm_id)
        if alarm.acked:
            raise AlarmAlreadyAcked(alarm_id, alarm.acked_by)
        alarm.state = "active_acked" if alarm.active else "cleared"
        alarm.acked_at, alarm.acked_by, alarm.updated_at = now, user, now
        if comment:
            alarm.comments.append((now, user, comment))
        if alarm.closed:
            self._close(alarm)
        log.info("alarm %d %s/%s acknowledged by %s", alarm.id, alarm.rule, alarm.subject, user)
        return AlarmChange(alarm.snapshot(), "acked", now, by=user)

    def comment(self, alarm_id: int, user: str, text: str, now: float) -> AlarmChange:
        """Add an operator's comment to any alarm (open or closed).  Raises AlarmNotFound."""
        alarm = self.get(alarm_id)
        alarm.comments.append((now, user, text))
        alarm.updated_at = now
        return AlarmChange(alarm.snapshot(), "commented", now, by=user)

    def regate(self, gate: Gate, now: float, by: str | None = None) -> list[AlarmChange]:
        """Apply the shelf and maintenance as they are now to every open alarm; one change
        per flag that moved ("shelved", "unshelved", "suppressed", "unsuppressed")."""
        changes: list[AlarmChange] = []
        for alarm in sorted(self._open.values(), key=lambda a: a.id):
            before = (alarm.shelved_until, alarm.suppressed_by)
            self._gate(alarm, gate)
            if (alarm.shelved_until, alarm.suppressed_by) == before:
                continue
            alarm.updated_at = now
            if alarm.shelved_until != before[0]:
                action: AlarmAction = "shelved" if alarm.shelved else "unshelved"
                who = alarm.shelved_by if alarm.shelved else by
                changes.append(AlarmChange(alarm.snapshot(), action, now, by=who))
            if alarm.suppressed_by != before[1]:
                action = "suppressed" if alarm.suppressed_by else "unsuppressed"
                changes.append(AlarmChange(alarm.snapshot(), action, now, by=by))
        return changes

    @staticmethod
    def _gate(alarm: Alarm, gate: Gate) -> None:
        mark = gate.shelf_mark(alarm.key)
        if mark is None:
            alarm.shelved_until, alarm.shelved_by, alarm.shelve_reason = None, None, ""
        else:
            alarm.shelved_until, alarm.shelved_by, alarm.shelve_reason = (
                mark.until, mark.by, mark.reason)
        alarm.suppressed_by = gate.suppression(alarm.rule, alarm.subject, alarm.zone)

    def _raise(self, v: Violation, now: float) -> Alarm:
        alarm = Alarm(id=self._next_id(), rule=v.rule, subject=v.subject, zone=v.zone,
                      severity=v.severity, state="active_unacked", message_zh=v.message_zh,
                      message_en=v.message_en, raised_at=now, updated_at=now)
        if alarm.id in self._alarms:
            raise AlarmError(f"alarm id {alarm.id} allocated twice")
        self._alarms[alarm.id] = alarm
        self._open[alarm.key] = alarm
        log.info("alarm %d raised: %s/%s (%s)", alarm.id, v.rule, v.subject, v.severity)
        return alarm

    def _reactivate(self, alarm: Alarm, v: Violation, now: float) -> None:
        self._follow(alarm, v, now)
        alarm.state, alarm.cleared_at, alarm.updated_at = "active_unacked", None, now
        alarm.count += 1
        log.info("alarm %d returned (%d times): %s/%s", alarm.id, alarm.count,
                 alarm.rule, alarm.subject)

    @staticmethod
    def _follow(alarm: Alarm, v: Violation, now: float) -> bool:
        """Make an open alarm describe the violation as it is now; True if anything changed."""
        if (alarm.zone, alarm.severity, alarm.message_zh, alarm.message_en) == \
                (v.zone, v.severity, v.message_zh, v.message_en):
            return False
        alarm.zone, alarm.severity = v.zone, v.severity
        alarm.message_zh, alarm.message_en = v.message_zh, v.message_en
        alarm.updated_at = now
        return True

    def _clear(self, alarm: Alarm, now: float) -> None:
        alarm.state = "cleared" if alarm.state == "active_acked" else "cleared_unacked"
        alarm.cleared_at = alarm.updated_at = now
        if alarm.closed:
            self._close(alarm)
        log.info("alarm %d cleared: %s/%s", alarm.id, alarm.rule, alarm.subject)

    def _close(self, alarm: Alarm) -> None:
        if self._open.get(alarm.key) is alarm:
            del self._open[alarm.key]

    # ------------------------------------------------------------------ queries

    def get(self, alarm_id: int) -> Alarm:
        """The live alarm object (do not mutate it; use the transitions)."""
        try:
            return self._alarms[alarm_id]
        except KeyError:
            raise AlarmNotFound(alarm_id) from None

    def all(self) -> list[Alarm]:
        """Every alarm the book holds, newest first."""
        return sorted(self._alarms.values(), key=lambda a: a.id, reverse=True)

    def active(self) -> list[Alarm]:
        """Active alarms (acknowledged or not), newest first.  Cheap: reads open alarms only."""
        return [a for a in self.open() if a.active]

    def open(self) -> list[Alarm]:
        """Alarms still needing attention: active, or cleared but not acknowledged."""
        return sorted(self._open.values(), key=lambda a: a.id, reverse=True)

    def by_key(self, key: AlarmKey) -> Alarm | None:
        """The open alarm of a (rule, subject), if any."""
        return self._open.get(key)

    def forget_closed(self, before: float) -> int:
        """Drop closed alarms cleared before ``before`` from memory (the store keeps the
        history); returns how many were dropped.  Keeps a long-running server's book small."""
        old = [a.id for a in self._alarms.values()
               if a.closed and a.cleared_at is not None and a.cleared_at < before]
        for alarm_id in old:
            del self._alarms[alarm_id]
        return len(old)
