"""WebSocket /api/ws: a snapshot on connect, then every change (see server/hub.py).

Auth: the ``cw_session`` cookie, ``?token=`` or a bearer header; without one the socket is
closed with code 4401 (policy) right after the handshake.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from server.auth import Principal, websocket_user
from server.hub import Hub, encode
from server.service import Coordinator

router = APIRouter(tags=["live state"])

CLOSE_UNAUTHORIZED = 4401
CLOSE_TOO_SLOW = 4408


async def accept_user(websocket: WebSocket) -> Principal | None:
    """Accept the handshake and return who is connecting; without credentials, close with
    CLOSE_UNAUTHORIZED and return None.  Accepting first lets the page read the close code
    (a refused handshake only shows the browser an HTTP 403).  Shared by the dashboards'
    and the guards' sockets."""
    user = websocket_user(websocket)
    await websocket.accept()
    if user is None:
        await websocket.close(CLOSE_UNAUTHORIZED, "not authenticated")
    return user


@router.websocket("/api/ws")
async def live(websocket: WebSocket) -> None:
    user = await accept_user(websocket)
    if user is None:
        return
    coord: Coordinator = websocket.app.state.coordinator
    hub: Hub = websocket.app.state.hub
    client = hub.connect(f"{user.username}@{websocket.client.host if websocket.client else '?'}")
    try:
        # Snapshot and registration happen without an await between them: nothing is lost.
        await pump(websocket, encode(coord.snapshot()), client.queue,
                   lambda: _drain_incoming(websocket), client.dropped, "ws")
    finally:
        hub.disconnect(client)


async def pump(websocket: WebSocket, first: str, queue: asyncio.Queue[str],
               receiving: Callable[[], Coroutine[Any, Any, Any]], dropped: asyncio.Event,
               name: str) -> None:
    """Send ``first``, then everything put on ``queue``, until the peer closes, the
    ``receiving`` task ends, or the fan-out drops this client for being too slow (then
    close with CLOSE_TOO_SLOW: the client reconnects and gets a fresh snapshot).
    Shared by the dashboards' and the guards' sockets."""
    tasks: set[asyncio.Task[Any]] = set()
    try:
        await websocket.send_text(first)
        tasks = {asyncio.create_task(_send(websocket, queue), name=f"{name}-send"),
                 asyncio.create_task(receiving(), name=f"{name}-receive"),
                 asyncio.create_task(dropped.wait(), name=f"{name}-dropped")}
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if dropped.is_set():
            with contextlib.suppress(Exception):
                await websocket.close(CLOSE_TOO_SLOW, "too slow; reconnect for a snapshot")
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _send(websocket: WebSocket, queue: asyncio.Queue[str]) -> None:
    while True:
        await websocket.send_text(await queue.get())


async def _drain_incoming(websocket: WebSocket) -> None:
    """The dashboards send nothing we act on; reading notices the close."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
