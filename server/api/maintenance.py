"""Maintenance (suppression by design) and audited device commands, for technicians.

PUT /api/maintenance/{device|zone}/{id} puts a device or a zone in maintenance: its alarms
are still evaluated and stored but flagged ``suppressed_by`` and not announced
(server/alarms/maintenance.py); DELETE lifts it.  POST /api/devices/{id}/commands sends a
signed command to the device's node and records it in the audit trail.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field

from protocol.messages import MetricValue
from server.alerts import actions
from server.alerts.desk import Outcome
from server.alerts.views import maintenance_json
from server.api.alarm_actions import http_error
from server.api.deps import coordinator
from server.auth import Principal, current_user, require
from server.errors import Invalid, NotFound, ServerError
from server.service import Coordinator
from server.store.records import AuditEntry

router = APIRouter(prefix="/api", tags=["maintenance"])

CAN_MAINTAIN = frozenset({"tech"})
Coord = Annotated[Coordinator, Depends(coordinator)]
Kind = Literal["device", "zone"]


class MaintenanceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500)
    hours: float | None = Field(default=None, gt=0, le=24 * 30,
                                description="planned length (site hours); none: until lifted")


class CommandRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")
    params: dict[str, MetricValue] = Field(default_factory=dict, max_length=32)


@router.get("/maintenance")
async def list_maintenance(coord: Coord, _: Annotated[Principal, Depends(current_user)],
                           ) -> list[dict[str, Any]]:
    return [maintenance_json(e) for e in coord.desk.maintenance.entries()]


@router.put("/maintenance/{kind}/{target}")
async def start(kind: Kind, target: str, body: MaintenanceRequest, coord: Coord,
                user: Annotated[Principal, Depends(require(CAN_MAINTAIN))]) -> dict[str, Any]:
    until = time.time() + body.hours * 3600 / coord.speed if body.hours else None
    try:
        entry = await coord.operate(
            lambda now: actions.maintenance_start(coord.desk, kind, target, user.username,
                                                  body.reason, now, until),
            user=user.username, action="maintenance_start",
            detail={"kind": kind, "target": target})
    except ServerError as err:
        http_error(err)
    return maintenance_json(entry)


@router.delete("/maintenance/{kind}/{target}", status_code=status.HTTP_204_NO_CONTENT)
async def end(kind: Kind, target: str, coord: Coord,
              user: Annotated[Principal, Depends(require(CAN_MAINTAIN))]) -> None:
    try:
        await coord.operate(
            lambda now: actions.maintenance_end(coord.desk, kind, target, user.username, now),
            user=user.username, action="maintenance_end",
            detail={"kind": kind, "target": target})
    except ServerError as err:
        http_error(err)


@router.post("/devices/{device}/commands", status_code=status.HTTP_202_ACCEPTED)
async def command(device: str, body: CommandRequest, coord: Coord,
                  user: Annotated[Principal, Depends(require(CAN_MAINTAIN))],
                  ) -> dict[str, Any]:
    """Send a signed command (e.g. ``reboot``, ``resync``, ``unlock``) to a device's node;
    the result comes back from the node (CommandResult).  Audited, refusals too."""
    state = coord.twin.devices.get(device)

    def act(now: float) -> Outcome[dict[str, Any]]:
        if state is None:
            raise NotFound(f"no device {device!r}")
        profile = coord.twin.profiles.get(state.profile)
        spec = profile.commands.get(body.name) if profile is not None else None
        if spec is None:
            offered = ", ".join(profile.commands) if profile is not None else ""
            raise Invalid(f"device {device} ({state.profile}) has no command {body.name!r}"
                          f" (it has: {offered or 'none'})")
        problems = spec.problems(body.params)
        if problems:
            raise Invalid(f"command {body.name} for {device}: {'; '.join(problems)}")
        sent = coord.link.send_command(state.node, body.name, device=device,
                                       params=dict(body.params))
        return Outcome({"id": sent.id, "node": state.node, "device": device,
                        "name": body.name, "expires_ms": sent.expires},
                       audit=[AuditEntry(now, user.username, "command", {
                           "id": sent.id, "node": state.node, "device": device,
                           "name": body.name, "params": dict(body.params)})])
    try:
        return await coord.operate(act, user=user.username, action="command",
                                   detail={"device": device, "name": body.name})
    except ServerError as err:
        if isinstance(err, NotFound):
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(err)) from None
        if isinstance(err, Invalid):
            raise HTTPException(422, str(err)) from None
        http_error(err)
