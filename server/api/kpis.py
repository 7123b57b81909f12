"""GET /api/kpis (the supervisor's alarm KPIs), GET /api/audit, GET /api/audit/verify."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status

from server.alarms.kpis import HistoryEntry, KpiReport
from server.api.deps import coordinator
from server.api.views import iso
from server.audit import AuditError, verify_chain
from server.auth import Principal, require
from server.service import Coordinator

router = APIRouter(prefix="/api", tags=["reports"])

CAN_REPORT = frozenset({"supervisor", "duty"})
CAN_AUDIT = frozenset({"supervisor"})
Coord = Annotated[Coordinator, Depends(coordinator)]
MAX_WINDOW_S = 31 * 86400


def _ts(text: str | None, name: str) -> float | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise HTTPException(422,
                            f"{name}: not an ISO-8601 time: {text[:40]!r}") from None


@router.get("/kpis")
async def kpis(coord: Coord, _: Annotated[Principal, Depends(require(CAN_REPORT))],
               hours: Annotated[float, Query(gt=0, le=MAX_WINDOW_S / 3600)] = 24,
               start: Annotated[str | None, Query(alias="from")] = None,
               end: Annotated[str | None, Query(alias="to")] = None) -> dict[str, Any]:
    """Alarm KPIs over ``[from, to)`` (ISO-8601), or the last ``hours`` (default 24):
    alarms per 10 min per console and floods, standing and chattering alarms, time to
    acknowledge and to clear (median, p90), top-10 sources, per shift and per day."""
    now = time.time()
    t1 = _ts(end, "to") or now
    t0 = _ts(start, "from") or t1 - hours * 3600
    if not t0 < t1 or t1 - t0 > MAX_WINDOW_S:
        raise HTTPException(422,
                            "need from < to, at most 31 days apart")
    rows = await coord.store.alarm_history(since=t0 - MAX_WINDOW_S / 31, until=t1 + 1)
    # Acks and clears after the window still count for alarms raised in it (up to now).
    if t1 < now:
        rows += await coord.store.alarm_history(since=t1 + 1, until=now + 1)
    history = [HistoryEntry(a, action, at, by) for a, action, at, by in rows]
    desk = coord.desk
    report = KpiReport(desk.settings.kpis, speed=coord.speed, timezone=coord.site.timezone)
    out = report.build(history, coord.book.open(), t0, t1, now)
    out["generated_at"] = iso(now)
    return out


@router.get("/audit")
async def audit(coord: Coord, _: Annotated[Principal, Depends(require(CAN_AUDIT))],
                limit: Annotated[int, Query(ge=1, le=5000)] = 200,
                action: str | None = None, user: str | None = None) -> list[dict[str, Any]]:
    """The latest audit records (oldest first), optionally one action or one user's."""
    entries = await coord.store.audit_entries(limit=5000 if (action or user) else limit)
    out = [{"ts": iso(e.ts), "user": e.user, "action": e.action, "detail": e.detail}
           for e in entries if (action is None or e.action == action)
           and (user is None or e.user == user)]
    return out[-limit:]


@router.get("/audit/verify")
async def verify(coord: Coord, who: Annotated[Principal, Depends(require(CAN_AUDIT))],
                 ) -> dict[str, Any]:
    """Check the hash chain now (the same check as ``custodywatch audit verify``)."""
    try:
        report = await asyncio.to_thread(verify_chain, coord.store.path)
    except AuditError as err:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(err)) from None
    await coord.store.audit(who.username, "audit_verify", ok=report.ok,
                            entries=report.entries)
    return {"ok": report.ok, "entries": report.entries, "head_seq": report.head_seq,
            "head_hash": report.head_hash, "message": report.describe(),
            "problem": None if report.problem is None else {
                "seq": report.problem.seq, "kind": report.problem.kind,
                "message": report.problem.message}}
