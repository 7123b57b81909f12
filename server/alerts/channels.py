"""WebSocket channels to the guards' handhelds: one bounded queue per connected page,
addressed by user (server/hub.py broadcasts to everyone; this sends to one person).

A page that cannot keep up is dropped (it reconnects and gets a snapshot, so nothing is
lost: the deliveries are the source of truth, not the socket).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from server.hub import HubClient, encode

log = logging.getLogger(__name__)

QUEUE_SIZE = 256

GuardClient = HubClient  # one guard page, named after its user


class GuardChannels:
    def __init__(self) -> None:
        self._clients: dict[str, set[GuardClient]] = {}

    def connect(self, user: str) -> GuardClient:
        client = GuardClient(user, asyncio.Queue(QUEUE_SIZE))
        self._clients.setdefault(user, set()).add(client)
        log.info("guard page connected: %s (%d open)", user, len(self._clients[user]))
        return client

    def disconnect(self, client: GuardClient) -> None:
        clients = self._clients.get(client.name)
        if clients is not None:
            clients.discard(client)
            if not clients:
                del self._clients[client.name]
            log.info("guard page disconnected: %s", client.name)

    def connected(self, user: str) -> bool:
        return bool(self._clients.get(user))

    def users(self) -> list[str]:
        return sorted(self._clients)

    def send(self, user: str, message: dict[str, Any]) -> int:
        """Queue a message for every page of ``user``; returns how many pages got it."""
        clients = self._clients.get(user)
        if not clients:
            return 0
        text = encode(message)
        sent = 0
        for client in list(clients):
            if client.offer(text):
                sent += 1
            else:
                log.warning("guard page of %s too slow; disconnecting it", user)
                self.disconnect(client)
        return sent
