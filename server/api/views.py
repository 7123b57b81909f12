"""JSON shapes of the API and the WebSocket (the preamble of the dashboards' contract).

Pure functions from live state to plain dicts.  Times are ISO-8601 UTC with ``Z``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from protocol.reasons import decode_info, detail_text
from protocol.site import SiteConfig
from server.alarms.lifecycle import Alarm
from server.custody import CustodyLimits, custody_clock
from server.rules.types import SEVERITY_ORDER
from server.twin import DeviceState, PersonState, Twin, ZoneState


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
        # Alarm management (docs/alarms.md): shelved / suppressed alarms are not announced.
        "shelved": ({"until": iso(a.shelved_until), "by": a.shelved_by,
                     "reason": a.shelve_reason} if a.shelved_until is not None else None),
        "suppressed_by": a.suppressed_by, "annunciated": a.annunciated,
        "comments": [{"at": iso(t), "by": u, "text": x} for t, u, x in a.comments[-20:]],
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
    """A device as GET /api/devices and the live feed show it.  ``status`` is one of the
    contract's four (CONTRACT.md): a device never heard of since the server started is
    ``offline`` there; ``link_status`` says which (``unknown``), and what maintenance hides."""
    if d.maintenance:
        status = "maintenance"
    else:
        status = "offline" if d.status == "unknown" else d.status
    out: dict[str, Any] = {
        "id": d.id, "zone": d.zone, "profile": d.profile, "node": d.node,
        "status": status, "link_status": d.status, "last_seen": iso(d.last_seen),
        "metrics": dict(d.metrics),
    }
    if "diagnosis_info" in d.metrics:  # a camera: why its picture is what it is
        out["diagnosis_text"] = diagnosis_text(d.metrics)
    return out


def diagnosis_text(metrics: Mapping[str, object]) -> dict[str, str] | None:
    """A camera's ``diagnosis_info`` worded in both languages (protocol/reasons.py), for the
    pages: {"zh", "en"}; None without a well-formed info (an older edge)."""
    info = decode_info(metrics.get("diagnosis_info"))
    if info is None:
        return None
    return {"zh": detail_text(info, "zh"), "en": detail_text(info, "en")}


def site_json(site: SiteConfig, speed: float, zones: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": site.id, "name": {"zh": site.name.zh, "en": site.name.en},
        "timezone": site.timezone, "floor": {"width": site.floor.width,
                                             "height": site.floor.height},
        "speed": speed, "zones": zones,
    }


def person_json(p: PersonState, limits: CustodyLimits, speed: float,
                now: float) -> dict[str, Any]:
    """A person (staff or in custody) with their custody clock: ``custody_*`` are null for
    someone never in custody.  Durations (``_s``) are site seconds."""
    clock = custody_clock(p, limits, speed, now)
    outing = None
    if p.outing_until is not None:
        outing = {"until": iso(p.outing_until), "started": iso(p.outing_started_at),
                  "reason": p.outing_reason, "overdue": now >= p.outing_until}
    return {
        "id": p.id, "role": p.role, "sex": p.sex, "age": p.age, "juvenile": p.is_juvenile,
        "case": p.case, "name": p.name, "id_number": p.id_number, "tag": p.tag,
        "in_custody": p.in_custody, "custody": p.custody_basis,
        "custody_start": iso(p.custody_start),
        "custody_limit_h": clock.limit_s / 3600 if clock else None,
        "custody_deadline": iso(clock.deadline) if clock else None,
        "custody_warning_at": iso(clock.warning_at) if clock else None,
        "custody_elapsed_s": round(clock.elapsed_s, 1) if clock else None,
        "custody_remaining_s": (round(clock.remaining_s, 1)
                                if clock and clock.remaining_s is not None else None),
        "custody_state": clock.state if clock else None,
        "released_at": iso(p.released_at), "release_kind": p.release_kind,
        "release_reason": p.release_reason, "transferred_to": p.transferred_to,
        "searched": p.searched, "searched_at": iso(p.searched_at),
        "zone": p.zone, "zone_since": iso(p.zone_since), "outing": outing,
        "tag_alerts": {"tampered": p.tag_tampered, "tampered_at": iso(p.tag_tampered_at),
                       "battery_low": p.tag_battery_low,
                       "battery_level": p.tag_battery_level},
    }


STAFF_TIMELINE_KEPT = 500  # a badge's last stays in the record (staff move all day)


def timeline_json(twin: Twin, p: PersonState, speed: float, now: float) -> list[dict[str, Any]]:
    """The person's stays, oldest first: of the current (or last) custody for a person in
    custody, the latest ones for staff.  ``duration_s`` is site seconds (so far, if open)."""
    stays = p.timeline
    if p.custody_start is not None:
        start = p.custody_start
        stays = [t for t in stays if t[2] is None or t[2] >= start]
    else:
        stays = stays[-STAFF_TIMELINE_KEPT:]
    out = []
    for zone_id, since, until in stays:
        zone = twin.zones.get(zone_id)
        name = ({"zh": zone.config.name.zh, "en": zone.config.name.en}
                if zone is not None else {"zh": zone_id, "en": zone_id})
        out.append({"zone": zone_id, "kind": zone.kind if zone is not None else None,
                    "name": name, "entered": iso(since), "left": iso(until),
                    "duration_s": round(((until if until is not None else now) - since)
                                        * speed, 1)})
    return out


def belongings_json(twin: Twin, p: PersonState) -> dict[str, Any]:
    """Lockers holding the person's belongings now (the locker banks' live state) and the
    file's history of lockers stored and returned."""
    refs = {p.id} | ({p.tag} if p.tag else set())
    current = []
    for device in twin.devices.values():
        occupied = device.metrics.get("occupied")
        if device.profile != "lockers" or not isinstance(occupied, list):
            continue
        for entry in occupied:
            locker, _, ref = str(entry).partition(":")
            if ref in refs:
                current.append({"device": device.id, "zone": device.zone, "locker": locker})
    history = [{"locker": b.get("locker"), "device": b.get("device"),
                "stored": iso(b.get("stored")), "returned": iso(b.get("returned"))}
               for b in p.belongings]
    return {"lockers": current, "history": history}


def custody_record_json(twin: Twin, p: PersonState, limits: CustodyLimits, speed: float,
                        now: float, actions: list[dict[str, Any]]) -> dict[str, Any]:
    """The person's file (一人一档): record, clock, timeline, belongings, outings, earlier
    custodies and every audited action about them."""
    return {
        **person_json(p, limits, speed, now),
        "timeline": timeline_json(twin, p, speed, now),
        "belongings": belongings_json(twin, p),
        "outings": [{"start": iso(o.get("start")), "until": iso(o.get("until")),
                     "ended": iso(o.get("ended")), "reason": o.get("reason", "")}
                    for o in p.outings],
        "past_custody": [{**c, "start": iso(c.get("start")), "end": iso(c.get("end"))}
                         for c in p.past_custody],
        "actions": actions,
    }
