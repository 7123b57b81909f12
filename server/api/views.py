"""JSON shapes of the API and the WebSocket (the preamble of the dashboards' contract).

Pure functions from live state to plain dicts.  Times are ISO-8601 UTC with ``Z``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from protocol.site import SiteConfig
from server.alarms.lifecycle import Alarm
from server.rules.types import SEVERITY_ORDER
from server.twin import DeviceState, PersonState, Twin, ZoneState

# Default custody limits in hours by legal basis (CONTRACT.md; site.rules may override
# them under custody_limits_h).
DEFAULT_CUSTODY_LIMITS_H: dict[str, float] = {
    "criminal_summons": 12,
    "criminal_summons_extended": 24,
    "administrative_questioning": 8,
    "administrative_questioning_extended": 24,
    "continued_questioning": 24,
    "continued_questioning_extended": 48,
}


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def alarm_json(a: Alarm) -> dict[str, Any]:
    return {
        "id": a.id, "rule": a.rule, "zone": a.zone, "subject": a.subject,
        "severity": a.severity, "state": a.state, "raised_at": iso(a.raised_at),
        "cleared_at": iso(a.cleared_at), "acked_at": iso(a.acked_at), "acked_by": a.acked_by,
        "message_zh": a.message_zh, "message_en": a.message_en, "count": a.count,
    }


def zone_severities(alarms: Iterable[Alarm]) -> dict[str, str]:
    """Worst active alarm severity per zone."""
    worst: dict[str, str] = {}
    for a in alarms:
        if a.active and a.zone is not None:
            current = worst.get(a.zone)
            if current is None or SEVERITY_ORDER[a.severity] < SEVERITY_ORDER[current]:
                worst[a.zone] = a.severity
    return worst


def zone_json(twin: Twin, zone: ZoneState, severity: str | None) -> dict[str, Any]:
    c = zone.config
    people = sorted((twin.people[p] for p in zone.occupants if p in twin.people),
                    key=lambda p: p.id)
    status = "alarm" if severity else ("occupied" if zone.occupants else "empty")
    return {
        "id": c.id, "kind": c.kind, "name": {"zh": c.name.zh, "en": c.name.en},
        "capacity": c.capacity, "rect": {"x": c.rect.x, "y": c.rect.y, "w": c.rect.w,
                                         "h": c.rect.h},
        "occupants": [p.id for p in people],
        "people": [{"id": p.id, "role": p.role, "in_custody": p.in_custody} for p in people],
        "status": status, "severity": severity,
    }


def device_json(d: DeviceState) -> dict[str, Any]:
    return {
        "id": d.id, "zone": d.zone, "profile": d.profile, "node": d.node,
        "status": "maintenance" if d.maintenance else d.status, "last_seen": iso(d.last_seen),
        "metrics": dict(d.metrics),
    }


def site_json(site: SiteConfig, speed: float, zones: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": site.id, "name": {"zh": site.name.zh, "en": site.name.en},
        "timezone": site.timezone, "floor": {"width": site.floor.width,
                                             "height": site.floor.height},
        "speed": speed, "zones": zones,
    }


def custody_limit_h(site: SiteConfig, basis: str | None) -> float | None:
    if basis is None:
        return None
    overrides = site.rules.get("custody_limits_h", {})
    value = overrides.get(basis) if isinstance(overrides, dict) else None
    return float(value) if value is not None else DEFAULT_CUSTODY_LIMITS_H.get(basis)


def person_json(site: SiteConfig, speed: float, p: PersonState) -> dict[str, Any]:
    limit_h = custody_limit_h(site, p.custody_basis)
    deadline = (p.custody_start + limit_h * 3600 / speed
                if p.custody_start is not None and limit_h is not None else None)
    return {
        "id": p.id, "role": p.role, "sex": p.sex, "age": p.age, "case": p.case,
        "name": p.name, "tag": p.tag, "in_custody": p.in_custody,
        "custody": p.custody_basis, "custody_start": iso(p.custody_start),
        "custody_limit_h": limit_h, "custody_deadline": iso(deadline),
        "released_at": iso(p.released_at), "searched": p.searched,
        "searched_at": iso(p.searched_at), "zone": p.zone, "zone_since": iso(p.zone_since),
        "juvenile": p.is_juvenile,
    }
