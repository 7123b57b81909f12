"""The baseline consumer: the cheapest possible server — a paho MQTT 3.1.1 subscriber on
the same uplink filters at the same QoS as the real server (server/ingest.py), doing
nothing but msgspec-decode each payload.  ``bench ingest`` runs the same load into it in
the same run, so the server's throughput reads as a fraction of what Python and paho
alone manage on this machine at this moment."""

from __future__ import annotations

import multiprocessing as mp
import time
from multiprocessing.connection import Connection
from typing import Any

import msgspec
import paho.mqtt.client as mqtt

from protocol import topics
from protocol.transport import paho_client
from server.perf.harness import BenchError

KEEPALIVE_S = 600  # long: ``bench ingest`` pauses the consumer while the load piles up


def consumer_main(host: str, port: int, site: str, conn: Connection) -> None:
    """Body of the consumer process: counts decoded messages; answers ``"count"`` with
    (count, time of the last message) and exits on ``"stop"``."""
    state = {"count": 0, "last": 0.0}
    decoder = msgspec.json.Decoder()

    def on_message(client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        decoder.decode(message.payload)
        state["count"] += 1
        state["last"] = time.time()

    def on_connect(client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any,
                   properties: Any) -> None:
        client.subscribe([(f, 1) for f in topics.uplink_filters(site)])

    def on_subscribe(*args: Any) -> None:
        conn.send("ready")

    client = paho_client("cw-bench-baseline")
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect(host, port, keepalive=KEEPALIVE_S)
    client.loop_start()
    while True:
        command = conn.recv()
        if command == "stop":
            break
        conn.send((state["count"], state["last"]))
    client.disconnect()
    client.loop_stop()


class BaselineConsumer:
    def __init__(self, host: str, port: int, site: str) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=consumer_main, args=(host, port, site, child),
                                daemon=True, name="cw-bench-baseline")
        self.proc.start()
        if not self.conn.poll(30):
            raise BenchError("baseline consumer did not subscribe in 30 s")
        self.conn.recv()

    def count(self) -> tuple[int, float]:
        self.conn.send("count")
        count, last = self.conn.recv()
        return int(count), float(last)

    def wait_processed(self, target: int, *, idle_s: float = 3.0,
                       timeout: float = 600.0) -> tuple[int, float]:
        """Wait until ``target`` messages arrived or none came for ``idle_s``;
        (count, time of the last message)."""
        deadline = time.monotonic() + timeout
        count, last = self.count()
        while count < target and time.monotonic() < deadline:
            time.sleep(0.05)
            count, last = self.count()
            if time.time() - max(last, 0.0) > idle_s:
                break
        return count, last

    def stop(self) -> None:
        try:
            self.conn.send("stop")
        except OSError:
            pass
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(2)
