"""Helpers for the live-view tests: a simulated MJPEG camera announced by a node to a
running server, and an aiortc peer negotiating through the API.

Imported by test_webrtc.py, test_webrtc_credentials.py and test_webrtc_browser.py (no
tests of its own).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from simulators.devices.cameras import CameraServer
from tests.conftest import Broker
from tests.server.test_api_support import FakeNode, RunningServer, running_server, wait_until

CAMERA = "camera-interrogation-1"
NODE = "edge-interview"


@asynccontextmanager
async def camera_online(tmp_path: Path, broker: Broker,
                        camera_login: tuple[str, str] | None = None,
                        metrics: dict[str, Any] | None = None) -> AsyncIterator[
        tuple[RunningServer, CameraServer, FakeNode]]:
    """A server, a simulated camera serving MJPEG (asking for ``camera_login`` if given),
    and a node announcing the camera with its stream URL (what the edge's CameraDriver
    reports: without a login) and a healthy picture, or ``metrics`` instead; yielded once
    the server offers the camera live."""
    async with CameraServer("Interrogation 1", fps=8, credentials=camera_login) as cam, \
            running_server(tmp_path, broker.url) as server:
        node = FakeNode(broker.port, NODE)
        try:
            node.birth()
            node.device_birth(CAMERA, "camera", {"online": True, "diagnosis": "ok",
                                                 **(metrics or {}), "stream_url": cam.url})

            async def born() -> bool:
                cams = (await server.get("/api/live/cameras")).json()
                return any(c["id"] == CAMERA and c["live"] for c in cams)

            await wait_until(born, "camera born")
            yield server, cam, node
        finally:
            node.close()


async def negotiate(http: httpx.AsyncClient, camera: str = CAMERA,
                    ) -> tuple[RTCPeerConnection, httpx.Response, asyncio.Queue[Any]]:
    """An aiortc peer offering to receive video; returns it, the API's answer and a queue of
    received tracks."""
    pc = RTCPeerConnection()
    tracks: asyncio.Queue[MediaStreamTrack] = asyncio.Queue()
    pc.on("track", tracks.put_nowait)
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    response = await http.post(f"/api/live/{camera}/offer",
                               json={"sdp": pc.localDescription.sdp, "type": "offer"})
    if response.status_code == 200:
        body = response.json()
        await pc.setRemoteDescription(RTCSessionDescription(sdp=body["sdp"], type=body["type"]))
    return pc, response, tracks
