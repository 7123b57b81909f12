"""An alarm desk on a virtual clock, driven like the coordinator drives it (no tests here).

``DeskRig`` holds the reference site's twin, an alarm book and an AlarmDesk; ``evaluate``
plays the engine's answer (a set of violations), ``act`` runs an operator action the way
``Coordinator.operate`` does, and every step goes through ``desk.stage`` /
``after_commit`` so escalations and audit entries come out as in the server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from protocol.profiles import load_profiles
from protocol.site import load_site
from server.alarms.lifecycle import AlarmBook, AlarmChange
from server.alarms.settings import AlarmSettings, ConditioningSettings
from server.alerts.desk import AlarmDesk, Outcome
from server.rules.types import AlarmKey, Severity, Violation
from server.store.records import AuditEntry, WriteBatch
from server.twin import Twin

PROFILES = load_profiles()
SITE = load_site("reference", PROFILES)
T0 = 1_750_000_000.0
T = TypeVar("T")

# No off-delay, deadband or restart hold: what the book holds follows the engine exactly.
PLAIN = AlarmSettings(conditioning=ConditioningSettings(default_off_delay_s=0, off_delay_s={},
                                                        deadband={}, restart_hold_s=0))


def violation(rule: str, subject: str, zone: str | None, severity: Severity = "critical",
              since: float = T0, **details: object) -> Violation:
    text = f"{rule} {subject}"
    return Violation(rule, subject, zone, severity, text, text, since, dict(details))


@dataclass
class Step:
    changes: list[AlarmChange] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)
    state_rows: int = 0


class DeskRig:
    def __init__(self, settings: AlarmSettings = PLAIN, speed: float = 1.0) -> None:
        self.now = T0
        self.twin = Twin(SITE, PROFILES, speed)
        self.book = AlarmBook()
        self.desk = AlarmDesk(site=SITE, profiles=PROFILES, twin=self.twin, book=self.book,
                              settings=settings, speed=speed)
        self.active: dict[AlarmKey, Violation] = {}
        self.pending: dict[AlarmKey, float] = {}
        self.sent: list[tuple[int, str, int]] = []  # (alarm, recipient, level) dispatched
        self.resent: list[tuple[int, str, int]] = []  # the same, sent again
        self.rows: dict[tuple[str, str], Any] = {}  # the store's alarm_state table
        self.audit_log: list[AuditEntry] = []
        self._watch_sends()

    def _watch_sends(self) -> None:
        original = self.desk._send_alert

        def record(dispatch: Any, sent_ms: int) -> None:
            (self.resent if dispatch.resend else self.sent).append(
                (dispatch.alarm_id, dispatch.recipient, dispatch.level))
            original(dispatch, sent_ms)
        self.desk._send_alert = record  # type: ignore[method-assign]

    def advance(self, seconds: float) -> Step:
        self.now += seconds
        return self.evaluate()

    def raise_(self, *violations: Violation) -> Step:
        for v in violations:
            self.active[v.key] = v
        return self.evaluate()

    def clear(self, *keys: AlarmKey) -> Step:
        for key in keys:
            self.active.pop(key, None)
        return self.evaluate()

    def evaluate(self) -> Step:
        """One coordinator step: the engine answered ``self.active``."""
        changes = self.desk.evaluate(dict(self.active), lambda: self.pending, self.now)
        return self._commit(WriteBatch(alarm_changes=changes))

    def act(self, act: Callable[[float], Outcome[T]]) -> tuple[T, Step]:
        outcome = act(self.now)
        step = self._commit(WriteBatch(alarm_changes=outcome.changes, audit=outcome.audit))
        return outcome.value, step

    def _commit(self, batch: WriteBatch) -> Step:
        self.desk.stage(batch, self.now)
        for row in batch.state:
            if row.data is None:
                self.rows.pop((row.kind, row.key), None)
            else:
                self.rows[(row.kind, row.key)] = row.data
        self.audit_log.extend(batch.audit)
        self.desk.after_commit()
        return Step(list(batch.alarm_changes), list(batch.audit), len(batch.state))

    def rows_of(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        return sorted((k, v) for (kd, k), v in self.rows.items() if kd == kind)

    def restored(self, settings: AlarmSettings = PLAIN) -> DeskRig:
        """A new rig from this one's stored state, as after a restart."""
        rig = DeskRig(settings)
        rig.now = self.now
        rig.book = AlarmBook([a.snapshot() for a in self.book.all()])
        rig.desk = AlarmDesk(site=SITE, profiles=PROFILES, twin=rig.twin, book=rig.book,
                             settings=settings, speed=1.0)
        kinds = ("shelf", "maintenance", "shift", "escalation", "delivery")
        rig.desk.restore({k: self.rows_of(k) for k in kinds}, rig.now)
        rig._watch_sends()
        rig.rows = dict(self.rows)
        rig.active = dict(self.active)
        return rig


def actions_of(entries: Iterable[AuditEntry]) -> list[str]:
    return [e.action for e in entries]
