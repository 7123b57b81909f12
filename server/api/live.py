"""Read-only views of the live state: GET /api/site, /api/zones, /api/devices.

The technicians' page (/devices) also reads one device in full, GET /api/devices/{id}, or
every device so, GET /api/device-details: the CONTRACT.md fields plus why it is lost
(``lost_cause``, ``lost_reason``), its node's state, the maintenance that covers it and the
commands its profile allows (device_profiles/*.yaml).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, status

from server.alerts.views import maintenance_json
from server.api.deps import coordinator
from server.api.views import device_json, iso
from server.auth import Principal, current_user
from server.rules.health import lost_texts
from server.service import Coordinator
from server.twin_state import DEVICE_STALE_FACTOR, DeviceState

router = APIRouter(prefix="/api", tags=["live state"])

Coord = Annotated[Coordinator, Depends(coordinator)]
LostCause = Literal["node_offline", "device_lost", "awaiting_birth", "silent", "never_seen"]


@router.get("/site")
async def get_site(coord: Coord,
                   _: Annotated[Principal, Depends(current_user)]) -> dict[str, Any]:
    return coord.site_view()


@router.get("/zones")
async def list_zones(coord: Coord,
                     _: Annotated[Principal, Depends(current_user)]) -> list[dict[str, Any]]:
    return coord.zones()


@router.get("/devices")
async def list_devices(coord: Coord,
                       _: Annotated[Principal, Depends(current_user)]) -> list[dict[str, Any]]:
    return coord.devices()


@router.get("/device-details")
async def list_device_details(coord: Coord, _: Annotated[Principal, Depends(current_user)],
                              ) -> list[dict[str, Any]]:
    """Every device as GET /api/devices/{id} gives it."""
    return [device_detail(coord, d) for d in coord.twin.devices.values()]


@router.get("/devices/{device_id}")
async def get_device(device_id: str, coord: Coord,
                     _: Annotated[Principal, Depends(current_user)]) -> dict[str, Any]:
    state = coord.twin.devices.get(device_id)
    if state is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no device {device_id[:64]!r}")
    return device_detail(coord, state)


def device_detail(coord: Coordinator, d: DeviceState) -> dict[str, Any]:
    """GET /api/devices' fields (unchanged) and what a technician needs beyond them."""
    node = coord.twin.nodes.get(d.node)
    profile = coord.twin.profiles.get(d.profile)
    covering = [maintenance_json(e) for e in coord.desk.maintenance.entries()
                if (e.kind, e.target) in (("device", d.id), ("zone", d.zone))]
    cause = _lost_cause(d, node is not None and node.online)
    return {
        **device_json(d),
        "lost_cause": cause,
        "lost_reason": d.lost_reason if cause == "device_lost" else "",
        # The same words as the device_offline alarm's, in both languages.
        "lost_text": _lost_text(d) if cause == "device_lost" else None,
        "born": d.born,
        "heartbeat_s": d.heartbeat_s,
        "stale_after_s": d.heartbeat_s * DEVICE_STALE_FACTOR,
        "metrics_at": iso(d.metrics_ts / 1000) if d.metrics_ts else None,
        "node_state": None if node is None else {
            "id": node.id, "kind": node.kind, "online": node.online,
            "last_seen": iso(node.last_seen), "outbox": node.outbox,
            "clock_skew_s": node.clock_skew_s,
        },
        "maintenance": covering,
        "profile_name": None if profile is None else profile.name.model_dump(),
        "transport": None if profile is None else profile.transport,
        "units": {} if profile is None else {
            name: spec.unit for name, spec in profile.metrics.items() if spec.unit},
        "commands": [] if profile is None else [
            {"name": name, "description": spec.description, "dangerous": spec.dangerous,
             "params": {p: ps.model_dump(exclude_none=True) for p, ps in spec.params.items()}}
            for name, spec in profile.commands.items()],
    }


def _lost_text(d: DeviceState) -> dict[str, str] | None:
    zh, en = lost_texts(d)
    return {"zh": zh, "en": en} if zh or en else None


def _lost_cause(d: DeviceState, node_online: bool) -> LostCause | None:
    """Why a device does not report: its node is gone; the live node declared it lost
    (DeviceLost after its birth, with the node's reason); the node came back but has not
    announced this device again; it fell silent (stale); or it never spoke."""
    if d.status == "offline":
        if not node_online:
            return "node_offline"
        return "device_lost" if d.born else "awaiting_birth"
    if d.status == "stale":
        return "silent"
    if d.status == "unknown":
        return "never_seen" if d.last_seen is None else "awaiting_birth"
    return None
