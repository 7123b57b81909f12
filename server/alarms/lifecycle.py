"""Alarm lifecycle: one alarm per (rule, subject) while active.

States (CONTRACT.md): active_unacked → active_acked → cleared, and cleared_unacked when
the condition returns to normal before anyone acknowledged (ack then makes it cleared).

(Interface fixed here; implementation in progress.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from server.rules.types import AlarmKey, Severity, Violation

AlarmState = Literal["active_unacked", "active_acked", "cleared_unacked", "cleared"]


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

    @property
    def key(self) -> AlarmKey:
        return (self.rule, self.subject)

    @property
    def active(self) -> bool:
        return self.state in ("active_unacked", "active_acked")


@dataclass(frozen=True, slots=True)
class AlarmChange:
    """One transition, for the store (append to history), the hub and the guards."""

    alarm: Alarm
    action: Literal["raised", "updated", "cleared", "acked", "commented"]
    at: float
    by: str | None = None


class AlarmBook:
    def __init__(self, alarms: Iterable[Alarm] = (), next_id: Callable[[], int] | None = None):
        raise NotImplementedError

    def sync(self, active: Mapping[AlarmKey, Violation], now: float) -> list[AlarmChange]:
        """Raise alarms for new violations, update re-occurring ones, clear the rest."""
        raise NotImplementedError

    def ack(self, alarm_id: int, user: str, now: float, comment: str = "") -> AlarmChange:
        raise NotImplementedError

    def get(self, alarm_id: int) -> Alarm:
        raise NotImplementedError

    def all(self) -> list[Alarm]:
        raise NotImplementedError
