"""JSON shapes of alarm management: deliveries, escalations, the shelf, maintenance, shifts
and the alert a guard's handheld shows.  Pure functions; times ISO-8601 UTC."""

from __future__ import annotations

from typing import Any

from protocol.messages import GuardAlert
from server.alarms.escalation import LEVELS, Delivery, Escalation
from server.alarms.lifecycle import Alarm
from server.alarms.maintenance import MaintenanceEntry
from server.alarms.roster import Shift
from server.alarms.shelving import ShelfEntry
from server.alerts.guidance import guidance
from server.api.views import alarm_json, iso


def delivery_json(d: Delivery) -> dict[str, Any]:
    return {
        "alarm": d.alarm_id, "recipient": d.recipient, "level": d.level,
        "level_name": LEVELS[d.level] if 0 <= d.level < len(LEVELS) else "took_over",
        "step": d.step, "sent_at": iso(d.sent_at), "delivered_at": iso(d.delivered_at),
        "seen_at": iso(d.seen_at), "acknowledged_at": iso(d.acknowledged_at),
        "arrived_at": iso(d.arrived_at), "resolved_at": iso(d.resolved_at), "note": d.note,
        "attempts": d.attempts, "channels": list(d.channels),
    }


def escalation_json(e: Escalation | None) -> dict[str, Any] | None:
    if e is None:
        return None
    return {"alarm": e.alarm_id, "level": e.level,
            "level_name": LEVELS[e.level] if 0 <= e.level < len(LEVELS) else None,
            "started": iso(e.started), "next_at": iso(e.next_at),
            "next_level": (LEVELS[e.level + 1] if e.running and e.level + 1 < len(LEVELS)
                           else None),
            "running": e.running, "stopped_at": iso(e.stopped_at),
            "stop_reason": e.stop_reason}


def guard_alert_json(alarm: Alarm, d: Delivery) -> dict[str, Any]:
    """What a guard's page shows: the alarm, what to do, and their own delivery."""
    todo_zh, todo_en = guidance(alarm.rule)
    return {**alarm_json(alarm), "todo_zh": todo_zh, "todo_en": todo_en,
            "comments": [{"at": iso(t), "by": u, "text": x} for t, u, x in alarm.comments],
            "delivery": delivery_json(d)}


def guard_alert_message(alarm: Alarm, d: Delivery, now_ms: int, resend: bool) -> GuardAlert:
    todo_zh, todo_en = guidance(alarm.rule)
    return GuardAlert(ts=now_ms, alarm=alarm.id, rule=alarm.rule,
                      severity=alarm.severity, state=alarm.state, zone=alarm.zone,
                      subject=alarm.subject[:512], level=max(-1, min(2, d.level)),
                      raised=int(alarm.raised_at * 1000), message_zh=alarm.message_zh[:512],
                      message_en=alarm.message_en[:512], todo_zh=todo_zh, todo_en=todo_en,
                      resend=resend)


def shelf_json(e: ShelfEntry) -> dict[str, Any]:
    return {"rule": e.rule, "subject": e.subject, "by": e.by, "role": e.role,
            "reason": e.reason, "at": iso(e.at), "until": iso(e.until),
            "duration_s": e.duration_s}


def maintenance_json(e: MaintenanceEntry) -> dict[str, Any]:
    return {"kind": e.kind, "target": e.target, "by": e.by, "reason": e.reason,
            "since": iso(e.since), "until": iso(e.until)}


def shift_json(s: Shift) -> dict[str, Any]:
    return {"user": s.user, "role": s.role, "zones": list(s.zones), "started": iso(s.started),
            "ends": iso(s.ends), "by": s.by}
