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

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

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


def paho_client(client_id: str, username: str | None = None, password: str | None = None,
                *, queued: int | None = None) -> mqtt.Client:
    """A paho client as every CustodyWatch paho user wants it: MQTT 3.1.1, clean session,
    login if given, reconnect with back-off (1–30 s), TCP_NODELAY on every socket it opens,
    and at most ``queued`` outgoing messages held while the link is down (None: paho's
    default, no limit)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv311, clean_session=True)
    if username:
        client.username_pw_set(username, password)
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    if queued is not None:
        client.max_queued_messages_set(queued)
    client.on_socket_open = lambda c, userdata, sock: disable_nagle(sock)
    return client
