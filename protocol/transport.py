"""Transport settings every MQTT client of CustodyWatch shares.

* MQTT 3.1.1: the embedded demo broker (amqtt) speaks nothing newer, and it is the faster
  protocol for a Python consumer.
* TCP_NODELAY: paho (and aiomqtt on top of it) leave Nagle's algorithm on.  A small
  publish that follows another one then waits for the peer's delayed ACK — about 40 ms on
  Linux — which alone would eat the alarm-latency budget (DESIGN.md: p50 ≤ 20 ms).
  Mosquitto needs ``set_tcp_nodelay true`` in its config for the same reason
  (docs/operations.md).
"""

from __future__ import annotations

import socket

NO_DELAY_OPTION: tuple[int, int, int] = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def disable_nagle(sock: socket.socket | object) -> None:
    """Set TCP_NODELAY on a connected client socket (ignored for non-TCP sockets)."""
    setsockopt = getattr(sock, "setsockopt", None)
    if setsockopt is None:
        return
    try:
        setsockopt(*NO_DELAY_OPTION)
    except OSError:  # e.g. a Unix socket or a websocket wrapper
        pass
