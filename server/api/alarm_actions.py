"""Alarm management beyond the ack: shelve, unshelve, comment, an alarm's history, the
shelf, and the alarm settings (docs/alarms.md).

Every action, and every refused attempt, is in the audit trail (Coordinator.operate).
"""

from __future__ import annotations

from typing import Annotated, Any, NoReturn

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field

from server.alarms.settings import AlarmSettings
from server.alarms.shelving import ShelveRefused
from server.alerts import actions
from server.alerts.actions import NotYours
from server.alerts.views import delivery_json, escalation_json, shelf_json
from server.api.deps import coordinator
from server.api.views import alarm_json, iso
from server.auth import CAN_ACK, Principal, current_user, require
from server.errors import Conflict, NotFound, ServerError
from server.service import Coordinator

router = APIRouter(prefix="/api", tags=["alarm management"])

AlarmId = Annotated[int, Field(ge=1, le=2**62)]
CAN_SHELVE = frozenset({"duty", "supervisor"})
CAN_COMMENT = CAN_ACK | {"tech"}
CAN_CONFIGURE = frozenset({"supervisor"})
Coord = Annotated[Coordinator, Depends(coordinator)]


def http_error(err: ServerError) -> NoReturn:
    """Map the desk's refusals to HTTP (raised from the caught error)."""
    if isinstance(err, NotFound):
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(err)) from None
    if isinstance(err, NotYours):
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(err)) from None
    if isinstance(err, ShelveRefused) and not isinstance(err, Conflict):
        raise HTTPException(422, str(err)) from None
    if isinstance(err, Conflict):
        raise HTTPException(status.HTTP_409_CONFLICT, str(err)) from None
    raise HTTPException(status.HTTP_400_BAD_REQUEST, str(err)) from None


class ShelveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(default="", max_length=500)
    duration_s: float = Field(description="site seconds", gt=0, le=10**9)


class CommentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=1000)


@router.post("/alarms/{alarm_id}/shelve")
async def shelve(alarm_id: AlarmId, body: ShelveRequest, coord: Coord,
                 user: Annotated[Principal, Depends(require(CAN_SHELVE))]) -> dict[str, Any]:
    """Shelve the alarm's (rule, subject) for ``duration_s`` with a reason (role limits:
    GET /api/alarm-settings)."""
    try:
        entry = await coord.operate(
            lambda now: actions.shelve(coord.desk, alarm_id, user.username, user.role,
                                       body.reason, body.duration_s, now),
            user=user.username, action="alarm_shelve",
            detail={"alarm": alarm_id, "reason": body.reason, "duration_s": body.duration_s})
    except ServerError as err:
        http_error(err)
    return {"shelf": shelf_json(entry), "alarm": alarm_json(coord.get_alarm(alarm_id))}


@router.post("/alarms/{alarm_id}/unshelve")
async def unshelve(alarm_id: AlarmId, coord: Coord,
                   user: Annotated[Principal, Depends(require(CAN_SHELVE))]) -> dict[str, Any]:
    try:
        alarm = await coord.operate(
            lambda now: actions.unshelve(coord.desk, alarm_id, user.username, now),
            user=user.username, action="alarm_unshelve", detail={"alarm": alarm_id})
    except ServerError as err:
        http_error(err)
    return alarm_json(alarm)


@router.post("/alarms/{alarm_id}/comment")
async def comment(alarm_id: AlarmId, body: CommentRequest, coord: Coord,
                  user: Annotated[Principal, Depends(require(CAN_COMMENT))]) -> dict[str, Any]:
    try:
        alarm = await coord.operate(
            lambda now: actions.comment(coord.desk, alarm_id, user.username, user.role,
                                        body.text, now),
            user=user.username, action="alarm_comment", detail={"alarm": alarm_id})
    except ServerError as err:
        http_error(err)
    return alarm_json(alarm)


@router.get("/alarms/{alarm_id}/history")
async def history(alarm_id: AlarmId, coord: Coord,
                  _: Annotated[Principal, Depends(current_user)]) -> dict[str, Any]:
    """The alarm, its comments, every stored transition, its escalation and deliveries."""
    try:
        alarm = coord.get_alarm(alarm_id)
    except NotFound as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(err)) from None
    rows = await coord.store.alarm_history(since=alarm.raised_at - 1)
    desk = coord.desk
    return {
        "alarm": alarm_json(alarm),
        "comments": [{"at": iso(t), "by": u, "text": x} for t, u, x in alarm.comments],
        "transitions": [{"action": action, "at": iso(at), "by": by, "state": a.state}
                        for a, action, at, by in rows if a.id == alarm_id],
        "escalation": escalation_json(desk.board.escalations.get(alarm_id)),
        "deliveries": [delivery_json(d) for d in desk.board.deliveries(alarm_id)],
    }


@router.get("/shelf")
async def shelf(coord: Coord, _: Annotated[Principal, Depends(current_user)],
                ) -> list[dict[str, Any]]:
    """Every shelved (rule, subject), soonest to come back first."""
    return [shelf_json(e) for e in coord.desk.shelf.entries()]


@router.get("/alarm-settings")
async def get_settings(coord: Coord, _: Annotated[Principal, Depends(current_user)],
                       ) -> dict[str, Any]:
    return coord.desk.settings.model_dump(mode="json")


@router.put("/alarm-settings")
async def put_settings(request: Request, coord: Coord,
                       user: Annotated[Principal, Depends(require(CAN_CONFIGURE))],
                       ) -> dict[str, Any]:
    """Replace the alarm settings (escalation times, shelving limits, conditioning, KPIs);
    audited as a configuration change and kept across restarts."""
    try:
        settings = AlarmSettings.model_validate(await request.json())
    except ValueError as err:
        await coord.store.audit(user.username, "config_change_refused",
                                section="alarms", error=str(err)[:500])
        raise HTTPException(422, str(err)[:2000]) from None
    try:
        await coord.operate(lambda now: actions.change_settings(coord.desk, settings,
                                                                user.username, now),
                            user=user.username, action="config_change",
                            detail={"section": "alarms"})
    except ServerError as err:
        http_error(err)
    return settings.model_dump(mode="json")
