"""The WebSocket hub's fan-out policy, without a network."""

from __future__ import annotations

import json

from server.hub import Hub, encode
from server.metrics import ServerMetrics


async def test_slow_client_is_dropped_without_blocking_others() -> None:
    """A client whose queue is full is disconnected and counted; broadcasting never waits
    and the other clients receive every message."""
    metrics = ServerMetrics()
    hub = Hub(metrics, queue_size=3)
    slow, fast = hub.connect("slow"), hub.connect("fast")
    for i in range(5):
        hub.broadcast({"type": "zone", "zone": {"id": f"z{i}"}})
        while not fast.queue.empty():  # the fast client keeps up
            assert json.loads(fast.queue.get_nowait())["zone"]["id"] == f"z{i}"
    assert slow.dropped.is_set() and slow not in hub.clients
    assert fast in hub.clients and not fast.dropped.is_set()
    assert metrics.ws_dropped._value.get() == 1
    assert metrics.ws_clients._value.get() == 1


def test_encode_is_compact_utf8_json() -> None:
    """What the dashboards receive parses to the message as json.dumps wrote it before:
    compact, UTF-8 text (no \\u escapes), every JSON type and nesting kept."""
    message = {"type": "zone", "zone": {"id": "holding-1", "name": "Zelle 1 – Süd",
                                        "occupants": ["p-1"], "temperature": 21.5,
                                        "limit": 1e16, "alarm": None, "ok": True, "n": -3}}
    text = encode(message)
    assert isinstance(text, str)
    assert json.loads(text) == message
    assert json.loads(text) == json.loads(json.dumps(message, ensure_ascii=False))
    assert "Zelle 1 – Süd" in text and ": " not in text and ", " not in text
