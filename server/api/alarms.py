"""GET /api/alarms, GET /api/alarms/{id}, POST /api/alarms/{id}/ack."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field

from server.alerts import actions as desk_actions
from server.alerts.actions import NotYours
from server.api.deps import coordinator
from server.api.views import alarm_json
from server.auth import CAN_ACK, Principal, current_user, require
from server.errors import Conflict, NotFound
from server.service import Coordinator

router = APIRouter(prefix="/api/alarms", tags=["alarms"])

AlarmId = Annotated[int, Field(ge=1, le=2**62)]


class AckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: str = Field(default="", max_length=1000)


@router.get("")
async def list_alarms(coord: Annotated[Coordinator, Depends(coordinator)],
                      _: Annotated[Principal, Depends(current_user)],
                      active: bool = False) -> list[dict[str, Any]]:
    """Alarms, newest first; ``?active=true`` only active ones."""
    return [alarm_json(a) for a in coord.alarms(active_only=active)]


@router.get("/{alarm_id}")
async def get_alarm(alarm_id: AlarmId, coord: Annotated[Coordinator, Depends(coordinator)],
                    _: Annotated[Principal, Depends(current_user)]) -> dict[str, Any]:
    try:
        return alarm_json(coord.get_alarm(alarm_id))
    except NotFound as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(err)) from None


@router.post("/{alarm_id}/ack")
async def ack_alarm(alarm_id: AlarmId, coord: Annotated[Coordinator, Depends(coordinator)],
                    user: Annotated[Principal, Depends(require(CAN_ACK))],
                    body: Annotated[AckRequest | None, Body()] = None) -> dict[str, Any]:
    comment = body.comment if body else ""
    try:
        # Through the alarm desk: a guard may only acknowledge their zones' alarms, and a
        # refused attempt (unknown, already acknowledged, not theirs) is audited too.
        alarm = await coord.operate(
            lambda now: desk_actions.ack(coord.desk, alarm_id, user.username, user.role, now,
                                         comment),
            user=user.username, action="alarm_ack",
            detail={"alarm": alarm_id, "comment": comment})
    except NotYours as err:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(err)) from None
    except NotFound as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(err)) from None
    except Conflict as err:
        raise HTTPException(status.HTTP_409_CONFLICT, str(err)) from None
    return alarm_json(alarm)
