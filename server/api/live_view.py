"""Live camera view (WebRTC) for the dashboards: GET /api/live/cameras,
POST /api/live/{camera}/offer, DELETE /api/live/sessions/{id}.

Signalling is one authenticated exchange: the browser posts its SDP offer (ICE candidates
gathered), the server answers with its own (aiortc gathers before answering), so no
trickle channel is needed.  The relay and its limits are in server/webrtc.py; who may watch
is ``CAN_VIEW_LIVE`` (the duty desk, supervisors, technicians; admin).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from server.api.deps import coordinator
from server.api.views import diagnosis_text
from server.auth import Principal, current_user, require
from server.camera_credentials import CameraCredentials, credentials_path
from server.service import Coordinator
from server.twin import DeviceState
from server.webrtc import LiveView, LiveViewError, check_stream_url

log = logging.getLogger(__name__)

CAN_VIEW_LIVE = frozenset({"duty", "supervisor", "tech"})
CAMERA_PROFILE = "camera"


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # The cameras' logins for the relay: a file of their own, never served (docs/video.md).
    credentials = CameraCredentials(credentials_path(app.state.config))
    credentials.load()
    app.state.live_view = LiveView(credentials=credentials)
    try:
        yield
    finally:
        await app.state.live_view.aclose()


router = APIRouter(prefix="/api/live", tags=["live view"], lifespan=_lifespan)


class Offer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sdp: str = Field(min_length=10, max_length=64_000)
    type: Literal["offer"]


def _live_view(request: Request) -> LiveView:
    live: LiveView = request.app.state.live_view
    return live


def _camera_json(device: DeviceState, viewers: int) -> dict[str, Any]:
    m = device.metrics
    return {"id": device.id, "zone": device.zone, "status": device.status,
            "diagnosis": m.get("diagnosis"), "diagnosis_detail": m.get("diagnosis_detail"),
            "diagnosis_info": m.get("diagnosis_info"), "diagnosis_text": diagnosis_text(m),
            "live": isinstance(m.get("stream_url"), str) and bool(m.get("stream_url")),
            "viewers": viewers, "lost_reason": device.lost_reason or None}


@router.get("/cameras")
async def list_cameras(coord: Annotated[Coordinator, Depends(coordinator)],
                       live: Annotated[LiveView, Depends(_live_view)],
                       _: Annotated[Principal, Depends(current_user)]) -> list[dict[str, Any]]:
    """Every camera with its state and diagnosis, and how many watch it live."""
    return [_camera_json(d, live.viewers(d.id)) for d in coord.twin.devices.values()
            if d.profile == CAMERA_PROFILE]


@router.post("/{camera}/offer", response_model=None)  # refusals are JSONResponses
async def offer(camera: str, body: Offer,
                coord: Annotated[Coordinator, Depends(coordinator)],
                live: Annotated[LiveView, Depends(_live_view)],
                user: Annotated[Principal, Depends(require(CAN_VIEW_LIVE))],
                ) -> dict[str, Any] | JSONResponse:
    """Open a live stream of ``camera``: the browser's SDP offer in, the server's answer out
    (with the camera's diagnosis).  404 unknown camera, 409 no stream known, 429 a limit
    reached, 503 no picture (the camera is offline or gives no frame; the reason says).
    A refusal's body is ``{"detail": text, "reason": code}`` (codes: server/webrtc.py,
    server/stream_probe.py; the wall translates them)."""
    device = coord.twin.devices.get(camera)
    if device is None or device.profile != CAMERA_PROFILE:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no camera {camera!r}")
    state = _camera_json(device, live.viewers(camera))
    if device.status in ("offline", "unknown"):
        reason = device.lost_reason or device.status
        return JSONResponse({"detail": f"no picture from {camera}: the camera is "
                                       f"{device.status} ({reason})",
                             "reason": f"camera_{device.status}"},
                            status.HTTP_503_SERVICE_UNAVAILABLE)
    try:
        url = check_stream_url(device.metrics.get("stream_url"))
        answer = await live.offer(user.username, camera, url, body.sdp, body.type)
    except LiveViewError as err:  # NoPicture, LimitReached too
        return JSONResponse({"detail": err.message, "reason": err.reason}, err.status)
    return {**answer, "camera": state}


@router.delete("/sessions/{session}", status_code=status.HTTP_204_NO_CONTENT)
async def close_session(session: str, live: Annotated[LiveView, Depends(_live_view)],
                        user: Annotated[Principal, Depends(current_user)]) -> Response:
    """End one of your live streams (admin: anyone's)."""
    closed = await live.close(session, None if user.role == "admin" else user.username)
    if not closed:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such live session of yours")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
