"""Read-only views of the live state: GET /api/site, /api/zones, /api/devices."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from server.api.deps import coordinator
from server.auth import Principal, current_user
from server.service import Coordinator

router = APIRouter(prefix="/api", tags=["live state"])


@router.get("/site")
async def get_site(coord: Annotated[Coordinator, Depends(coordinator)],
                   _: Annotated[Principal, Depends(current_user)]) -> dict[str, Any]:
    return coord.site_view()


@router.get("/zones")
async def list_zones(coord: Annotated[Coordinator, Depends(coordinator)],
                     _: Annotated[Principal, Depends(current_user)]) -> list[dict[str, Any]]:
    return coord.zones()


@router.get("/devices")
async def list_devices(coord: Annotated[Coordinator, Depends(coordinator)],
                       _: Annotated[Principal, Depends(current_user)]) -> list[dict[str, Any]]:
    return coord.devices()
