"""Live view over WebRTC (server/webrtc.py, server/api/live_view.py): an aiortc client
negotiates through the authenticated API and receives decoded frames relayed from a
simulated MJPEG camera; refusals (no login, unknown camera, limits, no picture)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from protocol import topics
from protocol.codec import now_ms
from protocol.messages import DeviceLost
from tests.server.test_api_support import RunningServer, wait_until
from tests.server.test_webrtc_support import CAMERA, NODE, camera_online, negotiate

pytestmark = pytest.mark.usefixtures("server_credentials")


async def test_aiortc_client_receives_decoded_frames(mqtt_broker, tmp_path: Path) -> None:
    """Negotiated through POST /api/live/{camera}/offer: the client receives the camera's
    640×360 frames, decoded, with advancing timestamps; the answer carries the camera's
    diagnosis; the viewer is counted and DELETE ends the session."""
    async with camera_online(tmp_path, mqtt_broker) as (server, _cam, _):
        pc, response, tracks = await negotiate(server.http)
        try:
            assert response.status_code == 200, response.text
            assert response.json()["camera"]["diagnosis"] == "ok"
            track = await asyncio.wait_for(tracks.get(), 10)
            frames = [await asyncio.wait_for(track.recv(), 10) for _ in range(4)]
            assert {(f.width, f.height) for f in frames} == {(640, 360)}
            assert frames[-1].pts > frames[0].pts
            assert frames[-1].to_ndarray(format="bgr24").mean() > 20  # a picture, not black
            cams = (await server.get("/api/live/cameras")).json()
            assert next(c for c in cams if c["id"] == CAMERA)["viewers"] == 1
        finally:
            await pc.close()
        session = response.json()["session"]
        assert (await server.http.delete(f"/api/live/sessions/{session}")).status_code in (
            204, 404)  # 404 if the closed peer connection already ended it
        await wait_until(lambda: _viewers(server, 0), "viewer gone")


async def _viewers(server: RunningServer, expected: int) -> bool:
    cams = (await server.get("/api/live/cameras")).json()
    return bool(next(c for c in cams if c["id"] == CAMERA)["viewers"] == expected)


async def test_refusals(mqtt_broker, tmp_path: Path) -> None:
    """No login: 401; an unknown camera: 404; a malformed offer: 422; more than two
    streams for one user: 429 with the reason; a lost camera: 503 saying why."""
    async with camera_online(tmp_path, mqtt_broker) as (server, _cam, node):
        async with httpx.AsyncClient(base_url=server.base) as anonymous:
            r = await anonymous.post(f"/api/live/{CAMERA}/offer",
                                     json={"sdp": "v=0 " * 10, "type": "offer"})
            assert r.status_code == 401
            assert (await anonymous.get("/api/live/cameras")).status_code == 401
        assert (await negotiate(server.http, "camera-nowhere"))[1].status_code == 404
        bad = await server.http.post(f"/api/live/{CAMERA}/offer", json={"sdp": "x"})
        assert bad.status_code == 422
        peers = []
        try:
            for _ in range(2):
                pc, r, _tracks = await negotiate(server.http)
                peers.append(pc)
                assert r.status_code == 200, r.text
            pc, r, _tracks = await negotiate(server.http)
            peers.append(pc)
            assert r.status_code == 429 and "already watches 2" in r.json()["detail"]
        finally:
            for pc in peers:
                await pc.close()
        node.publish(topics.device_topic("reference", NODE, CAMERA, topics.DeviceMessage.LOST),
                     DeviceLost(ts=now_ms(), seq=node.next_seq(),
                                reason="no signal: connection refused"))

        async def refused() -> httpx.Response | None:
            pc, r, _ = await negotiate(server.http)
            await pc.close()
            return r if r.status_code == 503 else None

        r = await wait_until(refused, "503 for a lost camera")
        assert "connection refused" in r.json()["detail"]


async def test_camera_without_picture_is_refused_clearly(mqtt_broker, tmp_path: Path) -> None:
    """The camera answers but sends no frame (stale): 503 "no picture from …" within the
    first-frame timeout, not a black video."""
    async with camera_online(tmp_path, mqtt_broker) as (server, cam, _):
        await cam.inject("stale")
        pc, r, _ = await negotiate(server.http)
        await pc.close()
        assert r.status_code == 503 and r.json()["detail"].startswith(f"no picture from {CAMERA}")
