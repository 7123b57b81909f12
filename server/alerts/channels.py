"""WebSocket channels to the guards' handhelds: one bounded queue per connected page,
addressed by user (server/hub.py broadcasts to everyone; this sends to one person).

A page that cannot keep up is dropped (it reconnects and gets a snapshot, so nothing is
lost: the deliveries are the source of truth, not the socket).
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

QUEUE_SIZE = 256


@dataclass(eq=False)
class GuardClient:
    user: str
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    dropped: asyncio.Event = field(default_factory=asyncio.Event)


class GuardChannels:
    def __init__(self) -> None:
        self._clients: dict[str, set[GuardClient]] = {}

    def connect(self, user: str) -> GuardClient:
        client = GuardClient(user)
        self._clients.setdefault(user, set()).add(client)
        log.info("guard page connected: %s (%d open)", user, len(self._clients[user]))
        return client

    def disconnect(self, client: GuardClient) -> None:
        clients = self._clients.get(client.user)
        if clients is not None:
            clients.discard(client)
            if not clients:
                del self._clients[client.user]
            log.info("guard page disconnected: %s", client.user)

    def connected(self, user: str) -> bool:
        return bool(self._clients.get(user))

    def users(self) -> list[str]:
        return sorted(self._clients)

    def send(self, user: str, message: dict[str, Any]) -> int:
        """Queue a message for every page of ``user``; returns how many pages got it."""
        clients = self._clients.get(user)
        if not clients:
            return 0
        text = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
        sent = 0
        for client in list(clients):
            try:
                client.queue.put_nowait(text)
                sent += 1
            except asyncio.QueueFull:
                log.warning("guard page of %s too slow; disconnecting it", user)
                client.dropped.set()
                self.disconnect(client)
        return sent
