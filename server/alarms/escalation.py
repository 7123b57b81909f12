"""Escalation of unacknowledged alarms and tracking of every alert sent to a person.

DESIGN.md: a new alarm goes at once to the guards of its zone; when nobody acknowledges it
in time it goes to every guard on shift, then to the supervisor.  The levels:

====== ================================ =================================================
level  who                               when
====== ================================ =================================================
0      the zone's guards (roster.py)     at once
1      every guard on shift              ``all_guards_after_s`` after the start, or at
                                         once when level 0 had nobody to alert
2      the supervisors on shift          ``supervisor_after_s`` after the start, or at
                                         once when nobody was alerted before
====== ================================ =================================================

An escalation starts when an announced alarm is raised unacknowledged (or comes back from
shelving or maintenance unacknowledged) and stops for good when the alarm is acknowledged,
shelved, suppressed or closed.  A returning condition of an unacknowledged alarm does not
restart it: the clock keeps running.

Every alert to a person is a :class:`Delivery` whose steps are recorded with their time:
``sent`` → ``delivered`` (the handheld or terminal confirmed receipt) → ``seen`` (shown on
a visible screen) → ``acknowledged`` → ``arrived`` (at the scene) → ``resolved`` (with a
note).  An alert not confirmed delivered is sent again every ``redeliver_s`` real seconds
while its escalation runs.

Pure: time is an argument; the caller (server/alerts/desk.py) stores what changed and sends
the returned :class:`Dispatch` es.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from protocol.timing import to_real
from server.alarms.lifecycle import Alarm, AlarmChange
from server.alarms.roster import Roster
from server.alarms.settings import EscalationSettings
from server.errors import Conflict, NotFound

Step = Literal["sent", "delivered", "seen", "acknowledged", "arrived", "resolved"]
STEPS: tuple[Step, ...] = ("sent", "delivered", "seen", "acknowledged", "arrived", "resolved")
LEVELS = ("zone_guards", "all_guards", "supervisor")
MAX_LEVEL = len(LEVELS) - 1
_STOPPING = {"acked": "acknowledged", "shelved": "shelved", "suppressed": "suppressed"}


@dataclass(slots=True)
class Delivery:
    alarm_id: int
    recipient: str
    level: int
    sent_at: float
    last_sent_at: float
    attempts: int = 1
    delivered_at: float | None = None
    seen_at: float | None = None
    acknowledged_at: float | None = None
    arrived_at: float | None = None
    resolved_at: float | None = None
    note: str = ""
    channels: list[str] = field(default_factory=list)  # "ws", "mqtt": who confirmed

    @property
    def key(self) -> str:
        return f"{self.alarm_id}:{self.recipient}"

    @property
    def step(self) -> Step:
        """The furthest step reached."""
        for step in reversed(STEPS[1:]):
            if getattr(self, f"{step}_at") is not None:
                return step
        return "sent"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Delivery:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass(slots=True)
class Escalation:
    alarm_id: int
    zone: str | None
    severity: str
    started: float
    level: int = -1  # the highest level dispatched so far (-1: none yet)
    next_at: float | None = None  # when the next level is due
    stopped_at: float | None = None
    stop_reason: str = ""

    @property
    def running(self) -> bool:
        return self.stopped_at is None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Escalation:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass(frozen=True, slots=True)
class Dispatch:
    """Send (or resend) the alert of ``alarm_id`` to ``recipient``."""

    alarm_id: int
    recipient: str
    level: int
    resend: bool = False


class EscalationBoard:
    def __init__(self, settings: EscalationSettings, speed: float = 1.0,
                 escalations: Iterable[Escalation] = (),
                 deliveries: Iterable[Delivery] = ()) -> None:
        self.settings = settings
        self.speed = speed
        self.escalations: dict[int, Escalation] = {e.alarm_id: e for e in escalations}
        self._deliveries: dict[int, dict[str, Delivery]] = {}
        for d in deliveries:
            self._deliveries.setdefault(d.alarm_id, {})[d.recipient] = d
        self._dirty_escalations: set[int] = set()
        self._dirty_deliveries: set[str] = set()
        self._now = 0.0
        self._due: float | None = None  # next_due's answer, until something changes
        self._due_valid = False

    def set_settings(self, settings: EscalationSettings) -> None:
        """New times apply to levels not yet scheduled, and to resends."""
        self.settings = settings
        self._due_valid = False

    def _mark_escalation(self, alarm_id: int) -> None:
        self._dirty_escalations.add(alarm_id)
        self._due_valid = False

    def _mark_delivery(self, key: str) -> None:
        self._dirty_deliveries.add(key)
        self._due_valid = False

    # ------------------------------------------------------------------ alarm changes

    def observe(self, change: AlarmChange, roster: Roster, now: float) -> list[Dispatch]:
        """React to one alarm transition; return the alerts to send now."""
        self._now = now
        alarm, action = change.alarm, change.action
        esc = self.escalations.get(alarm.id)
        if esc is not None and esc.running:
            if alarm.closed or action in _STOPPING or not alarm.annunciated:
                reason = _STOPPING.get(action, "closed" if alarm.closed else "not announced")
                self._stop(esc, reason, now)
                if action == "acked" and change.by:
                    self._mark_acked(alarm.id, change.by, now)
                return []
            esc.zone = alarm.zone  # an updated alarm may have moved
            return []
        if action == "acked" and change.by:
            self._mark_acked(alarm.id, change.by, now)
        if alarm.state == "active_unacked" and alarm.annunciated and action in (
                "raised", "unshelved", "unsuppressed") and (esc is None or not esc.running):
            esc = Escalation(alarm.id, alarm.zone, alarm.severity, now)
            self.escalations[alarm.id] = esc
            return self._advance(esc, roster, now)
        return []

    def _stop(self, esc: Escalation, reason: str, now: float) -> None:
        esc.stopped_at, esc.stop_reason, esc.next_at = now, reason, None
        self._mark_escalation(esc.alarm_id)

    def _mark_acked(self, alarm_id: int, user: str, now: float) -> None:
        d = self._deliveries.get(alarm_id, {}).get(user)
        if d is not None and d.acknowledged_at is None:
            d.acknowledged_at = now
            self._mark_delivery(d.key)

    # ------------------------------------------------------------------ time

    def due(self, roster: Roster, now: float) -> list[Dispatch]:
        """Escalations whose next level has come, and alerts to send again."""
        self._now = now
        out: list[Dispatch] = []
        for esc in list(self.escalations.values()):
            if esc.running and esc.next_at is not None and esc.next_at <= now:
                out.extend(self._advance(esc, roster, now))
        resend = self.settings.redeliver_s  # real seconds by definition
        for alarm_id, by_recipient in self._deliveries.items():
            running = self.escalations.get(alarm_id)
            if running is None or not running.running:
                continue
            for d in by_recipient.values():
                if d.delivered_at is None and d.last_sent_at + resend <= now:
                    d.last_sent_at, d.attempts = now, d.attempts + 1
                    self._mark_delivery(d.key)
                    out.append(Dispatch(alarm_id, d.recipient, d.level, resend=True))
        return out

    def next_due(self) -> float | None:
        """The next escalation level or resend (cached: asked on every coordinator step)."""
        if not self._due_valid:
            self._due, self._due_valid = self._compute_due(), True
        return self._due

    def _compute_due(self) -> float | None:
        times = [e.next_at for e in self.escalations.values()
                 if e.running and e.next_at is not None]
        resend = self.settings.redeliver_s
        for alarm_id, by_recipient in self._deliveries.items():
            esc = self.escalations.get(alarm_id)
            if esc is not None and esc.running:
                times.extend(d.last_sent_at + resend for d in by_recipient.values()
                             if d.delivered_at is None)
        return min(times, default=None)

    def _level_time(self, esc: Escalation, level: int) -> float:
        times = self.settings.for_severity(esc.severity)
        site_s = times.all_guards_after_s if level == 1 else times.supervisor_after_s
        return esc.started + to_real(site_s, self.speed)

    def _advance(self, esc: Escalation, roster: Roster, now: float) -> list[Dispatch]:
        """Dispatch every level that is due; a level that reached nobody falls through to
        the next one at once (an alarm in a zone without a guard goes wider)."""
        out: list[Dispatch] = []
        reached = bool(self._deliveries.get(esc.alarm_id))
        while esc.level < MAX_LEVEL:
            level = esc.level + 1
            if level > 0 and reached and self._level_time(esc, level) > now:
                break
            esc.level = level
            recipients = self._recipients(level, esc.zone, roster)
            out.extend(self._send(esc.alarm_id, user, level, now) for user in recipients
                       if user not in self._deliveries.get(esc.alarm_id, {}))
            reached = reached or bool(recipients)
        esc.next_at = self._level_time(esc, esc.level + 1) if esc.level < MAX_LEVEL else None
        self._mark_escalation(esc.alarm_id)
        return out

    def reroute(self, roster: Roster, now: float) -> list[Dispatch]:
        """After a shift starts or its zones change: running escalations reach the people
        who now belong to a level already dispatched."""
        out: list[Dispatch] = []
        for esc in self.escalations.values():
            if not esc.running:
                continue
            sent = self._deliveries.setdefault(esc.alarm_id, {})
            for level in range(esc.level + 1):
                out.extend(self._send(esc.alarm_id, user, level, now)
                           for user in self._recipients(level, esc.zone, roster)
                           if user not in sent)
        return out

    @staticmethod
    def _recipients(level: int, zone: str | None, roster: Roster) -> list[str]:
        if level == 0:
            return roster.zone_guards(zone)
        if level == 1:
            return roster.guards()
        return roster.supervisors()

    def _send(self, alarm_id: int, user: str, level: int, now: float) -> Dispatch:
        d = Delivery(alarm_id, user, level, sent_at=now, last_sent_at=now)
        self._deliveries.setdefault(alarm_id, {})[user] = d
        self._mark_delivery(d.key)
        return Dispatch(alarm_id, user, level)

    # ------------------------------------------------------------------ receipts, steps

    def record(self, alarm_id: int, recipient: str, step: Step, now: float, *,
               note: str = "", channel: str = "") -> Delivery:
        """A step reported by (or for) the recipient.  Steps are idempotent (the first time
        counts) and imply the earlier ones (an ``arrived`` implies ``seen``).  Raises
        NotFound when the alarm was never sent to them."""
        d = self._deliveries.get(alarm_id, {}).get(recipient)
        if d is None:
            raise NotFound(f"alarm {alarm_id} was not sent to {recipient}")
        if step == "sent":
            raise Conflict("'sent' is recorded by the server")
        index = STEPS.index(step)
        for earlier in STEPS[1:index + 1]:
            attr = f"{earlier}_at"
            if getattr(d, attr) is None:
                setattr(d, attr, now)
        if note:
            d.note = note[:1000]
        if channel and channel not in d.channels:
            d.channels.append(channel)
        self._mark_delivery(d.key)
        return d

    def ensure_delivery(self, alarm: Alarm, recipient: str, now: float) -> Delivery:
        """A person acting on an alarm they were not alerted to (a guard taking it over
        from the duty desk): their own delivery, so their steps are tracked too."""
        d = self._deliveries.get(alarm.id, {}).get(recipient)
        if d is None:
            d = Delivery(alarm.id, recipient, level=-1, sent_at=now, last_sent_at=now,
                         delivered_at=now)
            self._deliveries.setdefault(alarm.id, {})[recipient] = d
            self._mark_delivery(d.key)
        return d

    # ------------------------------------------------------------------ queries, storage

    def deliveries(self, alarm_id: int) -> list[Delivery]:
        return sorted(self._deliveries.get(alarm_id, {}).values(),
                      key=lambda d: (d.sent_at, d.recipient))

    def delivery(self, alarm_id: int, recipient: str) -> Delivery | None:
        return self._deliveries.get(alarm_id, {}).get(recipient)

    def for_recipient(self, recipient: str) -> list[Delivery]:
        return sorted((d for by in self._deliveries.values() for d in by.values()
                       if d.recipient == recipient), key=lambda d: d.sent_at, reverse=True)

    def all_deliveries(self) -> list[Delivery]:
        return [d for by in self._deliveries.values() for d in by.values()]

    def take_dirty(self) -> tuple[list[Escalation], list[Delivery]]:
        """What changed since the last call (for the store)."""
        escalations = [self.escalations[i] for i in sorted(self._dirty_escalations)
                       if i in self.escalations]
        deliveries = []
        for key in sorted(self._dirty_deliveries):
            alarm_id, _, recipient = key.partition(":")
            d = self._deliveries.get(int(alarm_id), {}).get(recipient)
            if d is not None:
                deliveries.append(d)
        self._dirty_escalations.clear()
        self._dirty_deliveries.clear()
        return escalations, deliveries

    def forget(self, alarm_ids: Iterable[int]) -> None:
        """Drop closed alarms' escalations and deliveries from memory (the store keeps
        them)."""
        for alarm_id in alarm_ids:
            self.escalations.pop(alarm_id, None)
            self._deliveries.pop(alarm_id, None)
        self._due_valid = False
