"""GET /api/devices/{id}/samples: a device's recent telemetry (the store's time series).

``since`` and ``until`` are ISO-8601 times (a time without an offset is UTC) or epoch
seconds and bound the observation time ``ts`` (``since <= ts < until``); ``limit`` caps
the answer to the latest samples of that window, returned oldest first.  How long
samples are kept: ``storage.samples_retention_days`` in the server config.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status

from server.api.deps import coordinator
from server.api.views import iso
from server.auth import Principal, current_user
from server.service import Coordinator

router = APIRouter(prefix="/api", tags=["live state"])

MAX_SAMPLES = 10_000


def _ms(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


@router.get("/devices/{device_id}/samples")
async def device_samples(device_id: str, coord: Annotated[Coordinator, Depends(coordinator)],
                         _: Annotated[Principal, Depends(current_user)],
                         since: datetime | None = None, until: datetime | None = None,
                         limit: Annotated[int, Query(ge=1, le=MAX_SAMPLES)] = 1000,
                         ) -> list[dict[str, Any]]:
    """The device's samples: ``ts`` (when the device observed them), ``received``,
    ``hist`` (replayed from an edge's outbox) and the reported ``metrics``."""
    if device_id not in coord.twin.devices:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no device {device_id[:64]!r}")
    since_ms, until_ms = _ms(since), _ms(until)
    if since_ms is not None and until_ms is not None and since_ms >= until_ms:
        raise HTTPException(422, "need since < until")
    rows = await coord.store.samples(device_id, since_ms=max(since_ms or 0, 0),
                                     until_ms=until_ms, limit=limit)
    return [{"ts": iso(r.ts / 1000), "received": iso(r.received), "hist": r.hist,
             "metrics": r.metrics} for r in rows]
