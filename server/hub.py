"""WebSocket fan-out to the dashboards.

Each client has its own bounded queue; :meth:`Hub.broadcast` encodes a message once and
puts it on every queue without awaiting anyone.  A client whose queue is full cannot keep
up: it is disconnected (and counted) rather than slowing the coordinator or the others.
The dashboard reconnects and receives a fresh snapshot.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import msgspec

from server.metrics import ServerMetrics

log = logging.getLogger(__name__)

CLIENT_QUEUE_SIZE = 1024


@dataclass(eq=False)
class HubClient:
    """One WebSocket peer (a dashboard here, a guard's page in server/alerts/channels.py):
    its bounded queue of encoded messages, and ``dropped``, set once it fell behind."""

    name: str
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(CLIENT_QUEUE_SIZE))
    dropped: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self, text: str) -> bool:
        """Queue ``text`` without waiting.  A full queue means the peer cannot keep up: it
        is marked dropped (its socket closes; the page reconnects for a fresh snapshot) and
        False is returned for the owner to disconnect it."""
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            self.dropped.set()
            return False
        return True


class Hub:
    def __init__(self, metrics: ServerMetrics, queue_size: int = CLIENT_QUEUE_SIZE) -> None:
        self.metrics = metrics
        self.queue_size = queue_size
        self.clients: set[HubClient] = set()

    def connect(self, name: str) -> HubClient:
        client = HubClient(name, asyncio.Queue(self.queue_size))
        self.clients.add(client)
        self.metrics.ws_clients.set(len(self.clients))
        return client

    def disconnect(self, client: HubClient) -> None:
        self.clients.discard(client)
        self.metrics.ws_clients.set(len(self.clients))

    def broadcast(self, message: dict[str, Any]) -> None:
        if not self.clients:
            return
        text = encode(message)
        for client in list(self.clients):
            if not client.offer(text):
                log.warning("WebSocket client %s too slow; disconnecting it", client.name)
                self.metrics.ws_dropped.inc()
                self.disconnect(client)


def encode(message: dict[str, Any]) -> str:
    """Compact UTF-8 JSON, as ``json.dumps(message, ensure_ascii=False,
    separators=(",", ":"))`` wrote it, several times faster (the coordinator broadcasts
    on every batch)."""
    return msgspec.json.encode(message).decode()
