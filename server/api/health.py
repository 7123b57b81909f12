"""GET /healthz and GET /metrics (no auth: for load balancers and Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse

from server.ingest import MqttLink
from server.metrics import CONTENT_TYPE_LATEST, ServerMetrics

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    """200 while the MQTT link is up (the server is ingesting), else 503."""
    link: MqttLink = request.app.state.link
    ok = link.connected
    return JSONResponse({"status": "ok" if ok else "degraded", "mqtt": ok},
                        status_code=status.HTTP_200_OK if ok
                        else status.HTTP_503_SERVICE_UNAVAILABLE)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    m: ServerMetrics = request.app.state.metrics
    link: MqttLink = request.app.state.link
    m.mqtt_connected.set(1 if link.connected else 0)
    m.queue_depth.set(link.batches.qsize())
    return Response(m.render(), media_type=CONTENT_TYPE_LATEST)
