"""Operator actions on alarms, shelving, maintenance, shifts and guard steps.

Each function takes the desk and the time and either raises (NotFound, Conflict,
ShelveRefused, NotYours) *before changing anything*, or changes the desk and the alarm book
and returns an :class:`~server.alerts.desk.Outcome` with the alarm transitions and the
audit entries.  They run under the coordinator's lock via ``Coordinator.operate``, which
writes the outcome in one transaction and audits a refusal.
"""

from __future__ import annotations

from typing import Any

from server.alarms.escalation import STEPS, Delivery, Step
from server.alarms.lifecycle import Alarm, AlarmAlreadyAcked, AlarmNotFound
from server.alarms.maintenance import MaintenanceEntry, Target
from server.alarms.roster import ShiftRole
from server.alarms.settings import AlarmSettings
from server.alarms.shelving import ShelfEntry
from server.alerts.desk import AlarmDesk, Outcome, shelf_key
from server.errors import Conflict, NotFound, ServerError
from server.store.records import AuditEntry


class NotYours(ServerError):
    """A guard acting on an alarm that is neither in their zones nor sent to them."""


def _alarm(desk: AlarmDesk, alarm_id: int) -> Alarm:
    try:
        return desk.book.get(alarm_id)
    except AlarmNotFound as err:
        raise NotFound(str(err)) from None


def check_guard(desk: AlarmDesk, alarm: Alarm, user: str, role: str) -> None:
    """A guard may act on an alarm sent to them or in a zone of their shift."""
    if role != "guard":
        return
    if desk.board.delivery(alarm.id, user) is not None:
        return
    shift = desk.roster.get(user)
    if shift is not None and shift.covers(alarm.zone):
        return
    where = f"zone {alarm.zone}" if alarm.zone else "no zone"
    raise NotYours(f"alarm {alarm.id} is in {where}, not one of {user}'s zones")


def _entry(now: float, user: str, action: str, alarm: Alarm, **detail: Any) -> AuditEntry:
    return AuditEntry(now, user, action, {"alarm": alarm.id, "rule": alarm.rule,
                                          "subject": alarm.subject, "zone": alarm.zone,
                                          **detail})


# ---------------------------------------------------------------------------- alarms


def ack(desk: AlarmDesk, alarm_id: int, user: str, role: str, now: float,
        comment: str = "") -> Outcome[Alarm]:
    alarm = _alarm(desk, alarm_id)
    check_guard(desk, alarm, user, role)
    try:
        change = desk.book.ack(alarm_id, user, now, comment)
    except AlarmAlreadyAcked as err:
        raise Conflict(str(err)) from None
    if role == "guard":
        desk.board.ensure_delivery(alarm, user, now)
    return Outcome(change.alarm, [change], [_entry(now, user, "alarm_ack", alarm,
                                                   comment=comment)])


def comment(desk: AlarmDesk, alarm_id: int, user: str, role: str, text: str,
            now: float) -> Outcome[Alarm]:
    alarm = _alarm(desk, alarm_id)
    check_guard(desk, alarm, user, role)
    if not text.strip():
        raise Conflict("an empty comment")
    change = desk.book.comment(alarm_id, user, text.strip(), now)
    return Outcome(change.alarm, [change], [_entry(now, user, "alarm_comment", alarm,
                                                   text=text.strip())])


def shelve(desk: AlarmDesk, alarm_id: int, user: str, role: str, reason: str,
           duration_s: float, now: float) -> Outcome[ShelfEntry]:
    alarm = _alarm(desk, alarm_id)
    entry = desk.shelf.shelve(alarm.rule, alarm.subject, by=user, role=role, reason=reason,
                              duration_s=duration_s, now=now)
    desk.put("shelf", shelf_key(entry.key), entry.to_json())
    changes = desk.book.regate(desk, now, by=user)
    return Outcome(entry, changes, [_entry(now, user, "alarm_shelve", alarm, reason=entry.reason,
                                           duration_s=duration_s, until=entry.until)])


def unshelve(desk: AlarmDesk, alarm_id: int, user: str, now: float) -> Outcome[Alarm]:
    alarm = _alarm(desk, alarm_id)
    entry = desk.shelf.unshelve(alarm.key)
    desk.delete("shelf", shelf_key(entry.key))
    changes = desk.book.regate(desk, now, by=user)
    return Outcome(desk.book.get(alarm_id).snapshot(), changes,
                   [_entry(now, user, "alarm_unshelve", alarm, shelved_by=entry.by)])


# ---------------------------------------------------------------------------- maintenance


def maintenance_start(desk: AlarmDesk, kind: Target, target: str, user: str, reason: str,
                      now: float, until: float | None = None) -> Outcome[MaintenanceEntry]:
    if not reason.strip():
        raise Conflict("a reason is required")
    entry = desk.maintenance.start(kind, target, by=user, reason=reason.strip(), now=now,
                                   until=until)
    desk.put("maintenance", entry.key, entry.to_json())
    twin = desk.maintenance_changed()
    changes = desk.book.regate(desk, now, by=user)
    return Outcome(entry, changes, [AuditEntry(now, user, "maintenance_start", {
        "kind": kind, "target": target, "reason": entry.reason, "until": until})], twin)


def maintenance_end(desk: AlarmDesk, kind: Target, target: str, user: str,
                    now: float) -> Outcome[MaintenanceEntry]:
    entry = desk.maintenance.end(kind, target)
    desk.delete("maintenance", entry.key)
    twin = desk.maintenance_changed()
    changes = desk.book.regate(desk, now, by=user)
    return Outcome(entry, changes, [AuditEntry(now, user, "maintenance_end", {
        "kind": kind, "target": target})], twin)


# ---------------------------------------------------------------------------- shifts


def shift_start(desk: AlarmDesk, guard: str, role: ShiftRole, zones: list[str], by: str,
                now: float, ends: float | None = None) -> Outcome[Any]:
    known = {z.id for z in desk.site.zones}
    unknown = sorted(set(zones) - known - {"*"})
    if unknown:
        raise NotFound(f"no zones {unknown}")
    shift = desk.roster.start(guard, role, zones, by=by, now=now, ends=ends)
    desk.put("shift", guard, shift.to_json())
    desk.queue_dispatches(desk.board.reroute(desk.roster, now))
    return Outcome(shift, audit=[AuditEntry(now, by, "shift_start", {
        "user": guard, "role": role, "zones": list(shift.zones), "ends": ends})])


def shift_end(desk: AlarmDesk, guard: str, by: str, now: float) -> Outcome[Any]:
    shift = desk.roster.end(guard)
    desk.delete("shift", guard)
    return Outcome(shift, audit=[AuditEntry(now, by, "shift_end", {"user": guard})])


# ---------------------------------------------------------------------------- guard steps


def guard_step(desk: AlarmDesk, alarm_id: int, guard: str, step: str, now: float, *,
               note: str = "", channel: str = "", role: str = "guard") -> Outcome[Delivery]:
    """A step of a guard on an alert: receipts (delivered, seen) and actions (acknowledged,
    arrived, resolved; the last two audited, ``acknowledged`` acknowledges the alarm)."""
    if step not in STEPS or step == "sent":
        raise Conflict(f"unknown step {step!r}")
    alarm = _alarm(desk, alarm_id)
    check_guard(desk, alarm, guard, role)
    if desk.board.delivery(alarm_id, guard) is None:
        desk.board.ensure_delivery(alarm, guard, now)
    changes = []
    audit: list[AuditEntry] = []
    if step in ("acknowledged", "arrived", "resolved") and not alarm.acked:
        changes.append(desk.book.ack(alarm_id, guard, now, note if step == "acknowledged"
                                     else ""))
        audit.append(_entry(now, guard, "alarm_ack", alarm, comment=note, via=channel or "api"))
    delivery = desk.board.record(alarm_id, guard, _as_step(step), now, note=note,
                                 channel=channel)
    if step in ("arrived", "resolved"):
        text = f"[{step}] {note}".strip() if note else f"[{step}]"
        changes.append(desk.book.comment(alarm_id, guard, text, now))
        audit.append(_entry(now, guard, f"guard_{step}", alarm, note=note, via=channel or "api"))
    return Outcome(delivery, changes, audit)


def _as_step(step: str) -> Step:
    for known in STEPS:
        if known == step:
            return known
    raise Conflict(f"unknown step {step!r}")


# ---------------------------------------------------------------------------- settings


def change_settings(desk: AlarmDesk, settings: AlarmSettings, user: str,
                    now: float) -> Outcome[AlarmSettings]:
    before = desk.settings.model_dump(mode="json")
    after = settings.model_dump(mode="json")
    changed = sorted(k for k in after if before.get(k) != after[k])
    desk.apply_settings(settings)
    desk.put("settings", "alarms", {"settings": after, "file": desk.file_digest, "at": now})
    return Outcome(settings, audit=[AuditEntry(now, user, "config_change", {
        "section": "alarms", "changed": changed,
        "before": {k: before.get(k) for k in changed},
        "after": {k: after[k] for k in changed}})])
