"""Guards: shifts and zone assignments (duty desk), deliveries, and the guard's own alerts
(the handheld page /guard: GET /api/guard/alerts, POST steps, WebSocket /api/guard/ws).

The WebSocket sends a snapshot of the guard's alerts on connect (what they missed while
offline included), then ``alert`` (new), ``update`` (the alarm changed) and ``delivery``
messages; the page answers with receipts ``{"type": "receipt", "ts", "alarm", "step"}``
(``delivered``, ``seen``) and pings (``{"type": "ping"}`` → ``{"type": "pong"}``).
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, WebSocket, status
from pydantic import BaseModel, ConfigDict, Field

from protocol.codec import decode
from protocol.errors import ProtocolError
from protocol.messages import GuardReceipt
from server.alerts import actions
from server.alerts.channels import GuardClient
from server.alerts.views import delivery_json, guard_alert_json, shift_json
from server.api.alarm_actions import AlarmId, http_error
from server.api.deps import coordinator
from server.api.views import iso
from server.api.ws import accept_user, pump
from server.auth import Principal, current_user, require
from server.errors import NotFound, ServerError
from server.service import Coordinator

router = APIRouter(prefix="/api", tags=["guards"])

CAN_ASSIGN = frozenset({"duty", "supervisor"})
MAX_WS_MESSAGE = 4096
Coord = Annotated[Coordinator, Depends(coordinator)]


class ShiftRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: str = Field(min_length=1, max_length=64)
    role: Literal["guard", "supervisor"] = "guard"
    zones: list[str] = Field(default_factory=list, max_length=200)
    hours: float | None = Field(default=None, gt=0, le=48, description="planned length")


class StepRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(default="", max_length=1000)


@router.get("/guards/shifts")
async def shifts(coord: Coord, _: Annotated[Principal, Depends(current_user)],
                 ) -> list[dict[str, Any]]:
    """Who is on shift, their zones, and whether their handheld is connected."""
    desk = coord.desk
    return [{**shift_json(s), "connected": desk.channels.connected(s.user)}
            for s in desk.roster.shifts()]


@router.post("/guards/shifts", status_code=status.HTTP_201_CREATED)
async def start_shift(body: ShiftRequest, coord: Coord,
                      user: Annotated[Principal, Depends(require(CAN_ASSIGN))],
                      ) -> dict[str, Any]:
    """Put a guard (or supervisor) on shift with their zones (``*``: all); again to change
    the zones.  Running escalations reach them at once if they now concern them."""
    record = await coord.store.get_user(body.user)
    if record is None or record.role not in (body.role, "admin"):
        await coord.store.audit(user.username, "shift_start_refused", guard=body.user,
                                error=f"no {body.role} account")
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no {body.role} account {body.user!r}")
    ends = time.time() + body.hours * 3600 / coord.speed if body.hours else None
    try:
        shift = await coord.operate(
            lambda now: actions.shift_start(coord.desk, body.user, body.role, body.zones,
                                            user.username, now, ends),
            user=user.username, action="shift_start",
            detail={"user": body.user, "zones": body.zones})
    except ServerError as err:
        http_error(err)
    return shift_json(shift)


@router.delete("/guards/shifts/{guard}", status_code=status.HTTP_204_NO_CONTENT)
async def end_shift(guard: str, coord: Coord,
                    user: Annotated[Principal, Depends(current_user)]) -> None:
    """End a shift (the duty desk, a supervisor, or the guard themself)."""
    if user.username != guard and user.role not in CAN_ASSIGN | {"admin"}:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only the duty desk ends others' shifts")
    try:
        await coord.operate(lambda now: actions.shift_end(coord.desk, guard, user.username,
                                                          now),
                            user=user.username, action="shift_end", detail={"user": guard})
    except ServerError as err:
        http_error(err)


@router.get("/guards/deliveries")
async def deliveries(coord: Coord, _: Annotated[Principal, Depends(current_user)],
                     alarm: int | None = None) -> list[dict[str, Any]]:
    """Alerts sent to people and how far each went (delivered … resolved)."""
    board = coord.desk.board
    items = board.deliveries(alarm) if alarm is not None else board.all_deliveries()
    return [delivery_json(d) for d in sorted(items, key=lambda d: d.sent_at, reverse=True)]


# ---------------------------------------------------------------------------- the guard


def _my_alerts(coord: Coordinator, user: str) -> list[dict[str, Any]]:
    out = []
    for d in coord.desk.board.for_recipient(user):
        try:
            alarm = coord.book.get(d.alarm_id)
        except LookupError:
            continue
        out.append(guard_alert_json(alarm, d))
    return out


def _me(coord: Coordinator, user: Principal) -> dict[str, Any]:
    shift = coord.desk.roster.get(user.username)
    return {"user": user.username, "role": user.role,
            "shift": shift_json(shift) if shift is not None else None}


@router.get("/guard/me")
async def me(coord: Coord, user: Annotated[Principal, Depends(current_user)]) -> dict[str, Any]:
    return _me(coord, user)


@router.get("/guard/alerts")
async def my_alerts(coord: Coord, user: Annotated[Principal, Depends(current_user)],
                    ) -> list[dict[str, Any]]:
    """The caller's alerts, newest first (open alarms and the last hour's closed ones)."""
    return _my_alerts(coord, user.username)


@router.post("/guard/alerts/{alarm_id}/{step}")
async def step(alarm_id: AlarmId, step: Literal["delivered", "seen", "acknowledged",
                                                  "arrived", "resolved"],
               coord: Coord, user: Annotated[Principal, Depends(current_user)],
               body: StepRequest | None = None) -> dict[str, Any]:
    """One tap on the handheld: acknowledge, arrived, resolved (optional note)."""
    note = body.note if body else ""
    try:
        delivery = await coord.operate(
            lambda now: actions.guard_step(coord.desk, alarm_id, user.username, step, now,
                                           note=note, channel="api", role=user.role),
            user=user.username, action=f"guard_{step}", detail={"alarm": alarm_id},
            audit_refusal=step not in ("delivered", "seen"))
    except ServerError as err:
        http_error(err)
    try:
        return guard_alert_json(coord.get_alarm(alarm_id), delivery)
    except NotFound:
        return {"delivery": delivery_json(delivery)}


@router.websocket("/guard/ws")
async def guard_socket(websocket: WebSocket) -> None:
    user = await accept_user(websocket)
    if user is None:
        return
    coord: Coordinator = websocket.app.state.coordinator
    channels = coord.desk.channels
    snapshot = {"type": "snapshot", "me": _me(coord, user), "server_time": iso(time.time()),
                "alerts": _my_alerts(coord, user.username)}
    client = channels.connect(user.username)  # no await since the snapshot: nothing lost
    try:
        await pump(websocket, json.dumps(snapshot, ensure_ascii=False), client.queue,
                   lambda: _receive(websocket, coord, client), client.dropped, "guard-ws")
    finally:
        channels.disconnect(client)


async def _receive(websocket: WebSocket, coord: Coordinator, client: GuardClient) -> None:
    """Receipts and pings from the page; anything else is ignored (hostile input)."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if not text or len(text) > MAX_WS_MESSAGE:
            continue
        if '"ping"' in text:
            if not client.queue.full():
                client.queue.put_nowait(json.dumps({"type": "pong",
                                                    "server_time": iso(time.time())}))
            continue
        try:
            receipt = decode(text.encode(), GuardReceipt)
        except ProtocolError:
            continue
        coord.desk.on_receipt(client.name, receipt, "ws")

