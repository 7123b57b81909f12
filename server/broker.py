"""The embedded MQTT broker (amqtt) for `custodywatch demo`: zero install, one machine.

Production uses Mosquitto (or a clustered broker); amqtt speaks MQTT 3.1.1 only, which is
what every CustodyWatch client uses.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

log = logging.getLogger(__name__)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def first_free_port(start: int, host: str = "127.0.0.1", tries: int = 50) -> int:
    for port in range(start, start + tries):
        if port_is_free(port, host):
            return port
    raise OSError(f"no free port in {start}..{start + tries - 1}")


class _SnapshotDict(dict[str, Any]):
    """A dict whose iteration works on a copy.

    amqtt 0.12 iterates its subscription table with awaits in the loop body (and deletes
    from it while iterating), so a client subscribing while another connects kills the
    connecting client with "dictionary changed size during iteration" — seen when the
    simulated centre's edge agents connect together."""

    def __iter__(self) -> Iterator[str]:
        return iter(list(super().keys()))

    def items(self) -> list[tuple[str, Any]]:  # type: ignore[override]
        return list(super().items())


@contextlib.asynccontextmanager
async def embedded_broker(port: int, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Run an amqtt broker on host:port for the duration; yields its mqtt:// URL."""
    from amqtt.broker import Broker

    # amqtt logs every connection at INFO; a demo's console is for the operator.
    for name in ("amqtt", "transitions"):
        logging.getLogger(name).setLevel(logging.WARNING)
    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }
    broker = Broker(config)
    broker._subscriptions = _SnapshotDict(broker._subscriptions)
    await broker.start()
    log.info("embedded MQTT broker on %s:%d", host, port)
    try:
        yield f"mqtt://{host}:{port}"
    finally:
        await broker.shutdown()
