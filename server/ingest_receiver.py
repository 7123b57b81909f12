"""The MQTT receiver process: paho's receive loop, away from the server's GIL.

Started by server/ingest_relay.py as ``python -m server.ingest_receiver`` (a fresh
interpreter: nothing is forked from a process with threads and an event loop).  It
subscribes to the site's uplink filters and writes what arrives to its stdout as frames:
a 4-byte big-endian length, then a msgpack ``[kind, messages]`` where ``messages`` is a
list of ``[topic, payload, received]`` (kind BATCH) or empty (kind UP after the broker
granted the subscription, DOWN when the connection dropped).  One frame carries every
message that arrived during the last ``FLUSH_INTERVAL_S`` while traffic flows, so the
server decodes one frame per batch, not one object per message.

Why a process: paho parses MQTT packets in Python (~45 µs a message); in a thread it
shares the GIL with the coordinator, and the two together reached only about half of a
bare paho consumer's rate (issue #7, scripts/profile_ingest.py).  Here the parsing runs on
another core.

The settings come as one JSON line on stdin (the password is never on the command line);
stdin then stays open, and its end (the server closed it, or died) ends this process.  The
parent's pid is checked too, for the unlikely case of a stdin held open elsewhere.
Messages are not acknowledged to the server: a message in flight when either process dies
is lost, as with any clean-session QoS 1 subscriber; the edges replay events until acked.

Back-pressure: the server stops reading this process's frames while it is far behind
(server/ingest.py, BACKLOG_HIGH); the pipe fills, the main thread waits in its write, and
once ``MAX_PENDING`` messages wait here paho's thread waits too (in ``on_message``, before
the PUBACK), so it stops reading its socket and the broker holds what comes next (its queue
for this session: Mosquitto's ``max_queued_messages``).  Memory stays bounded whatever the
load; a stall longer than 1.5 × keepalive costs the connection (paho cannot ping while it
waits), and the clean session's queued messages with it.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from typing import Any, BinaryIO, NamedTuple

import msgspec
import paho.mqtt.client as mqtt

from protocol.transport import paho_client

log = logging.getLogger("server.ingest_receiver")

BATCH, UP, DOWN = 0, 1, 2  # frame kinds
FLUSH_INTERVAL_S = 0.002  # while messages keep coming, send them this often
MAX_FRAME_MESSAGES = 5000  # a backlog goes out in frames of at most this many
MAX_PENDING = 50_000  # messages waiting here before paho's thread waits for room (~20 MB)
STALL_LOG_S = 30.0  # while stalled, say so at most this often
PARENT_CHECK_S = 1.0


class Inbound(NamedTuple):
    """One uplink message as paho handed it over (a tuple: made once per message, where a
    frozen dataclass costs several times more; the frames decode straight into it)."""

    topic: str
    payload: bytes
    received: float  # epoch seconds, when paho handed it over


class Receiver:
    """The paho client and the frames it produces on ``out``."""

    def __init__(self, config: dict[str, Any], out: BinaryIO) -> None:
        self.filters: list[str] = config["filters"]
        self.out = out
        self._encoder = msgspec.msgpack.Encoder()
        self._write_lock = threading.RLock()  # a flush's frames leave in one piece
        self.max_pending = int(config.get("max_pending", MAX_PENDING))
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)  # notified when _pending is taken
        self._pending: list[Inbound] = []
        self._arrived = threading.Event()
        self.stalls = 0  # times paho's thread had to wait for room
        self._stall_logged = 0.0
        client = paho_client(config["client_id"], config.get("username"), config.get("password"))
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self.client = client
        self.host: str = config["host"]
        self.port: int = config["port"]
        self.keepalive: int = config["keepalive"]

    # ------------------------------------------------------------------ paho thread

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any,
                    reason_code: Any, properties: Any) -> None:
        if reason_code.is_failure:
            log.error("MQTT broker refused the receiver's connection: %s", reason_code)
            return
        client.subscribe([(f, 1) for f in self.filters])

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int,
                      reason_codes: Any, properties: Any) -> None:
        self._send(UP, [])

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any,
                       reason_code: Any, properties: Any) -> None:
        log.warning("MQTT receiver link down: %s (paho reconnects with backoff)", reason_code)
        self._flush()  # what arrived before the drop still goes first
        self._send(DOWN, [])

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        item = Inbound(message.topic, bytes(message.payload), time.time())
        with self._lock:
            if len(self._pending) >= self.max_pending:
                self._stall()
            self._pending.append(item)
            if len(self._pending) == 1:
                self._arrived.set()

    def _stall(self) -> None:
        """Wait (lock held, released while waiting) until the main thread took the pending
        messages: the server is far behind and not reading."""
        self.stalls += 1
        now = time.monotonic()
        if now - self._stall_logged >= STALL_LOG_S:
            self._stall_logged = now
            log.warning("server is %d+ messages behind: receiver stops reading from the "
                        "broker until it catches up (stall %d)", self.max_pending, self.stalls)
        while len(self._pending) >= self.max_pending:
            self._room.wait(PARENT_CHECK_S)

    # ------------------------------------------------------------------ main thread

    def run(self, parent_pid: int) -> None:
        self.client.connect_async(self.host, self.port, keepalive=self.keepalive)
        self.client.loop_start()
        while True:
            if not self._arrived.wait(PARENT_CHECK_S) and os.getppid() != parent_pid:
                log.warning("server process %d is gone; receiver exits", parent_pid)
                return
            self._flush()
            # Traffic flows: let it pile up a little instead of a frame per message.
            time.sleep(FLUSH_INTERVAL_S)

    def _flush(self) -> None:
        with self._write_lock:  # taken and sent in order, whichever thread flushes
            with self._lock:
                batch, self._pending = self._pending, []
                self._arrived.clear()
                self._room.notify_all()
            for i in range(0, len(batch), MAX_FRAME_MESSAGES):
                self._send(BATCH, batch[i:i + MAX_FRAME_MESSAGES])

    def _send(self, kind: int, messages: list[Inbound]) -> None:
        frame = self._encoder.encode((kind, messages))
        with self._write_lock:
            try:
                self.out.write(len(frame).to_bytes(4, "big") + frame)
                self.out.flush()
            except (BrokenPipeError, ValueError, OSError):  # the server is gone
                os._exit(0)


def _exit_when_stdin_ends() -> None:
    """The server closes our stdin on shutdown; the kernel does when it dies."""
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        os._exit(0)


def main() -> None:
    # Ctrl-C in a terminal reaches the whole process group: the server decides when we stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = json.loads(sys.stdin.buffer.readline())
    receiver = Receiver(config, sys.stdout.buffer)
    threading.Thread(target=_exit_when_stdin_ends, name="parent-watch", daemon=True).start()
    receiver.run(config["parent_pid"])


if __name__ == "__main__":
    main()
