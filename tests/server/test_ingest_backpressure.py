"""Back-pressure on the MQTT link (server/ingest.py, ingest_relay.py, ingest_receiver.py): a
server that falls far behind stops taking messages, memory stays bounded in both the
server and the receiver process, the broker holds the rest, and nothing is lost or
reordered once the server catches up."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

import server.ingest as ingest
from server.config import MqttSettings
from server.ingest import Inbound, MqttLink
from tests.conftest import Broker
from tests.server.test_ingest_receiver import HEARTBEATS, publisher, until

PAYLOAD = 1000  # bytes: 60,000 of them are 60 MB, which an unbounded receiver would hold
MESSAGES = 60_000
HIGH, LOW = 3_000, 1_000


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


def number(item: Inbound) -> int:
    return int(item.payload[:12])


@pytest.mark.parametrize("receiver", ["process", "thread"])
async def test_a_server_far_behind_takes_no_more_and_loses_nothing(
        mqtt_broker: Broker, receiver: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest, "BACKLOG_HIGH", HIGH)
    monkeypatch.setattr(ingest, "BACKLOG_LOW", LOW)
    monkeypatch.setattr(ingest, "MAX_PENDING", 2_000)  # the thread receiver's list
    settings = MqttSettings(url=mqtt_broker.url, receiver=receiver)  # type: ignore[arg-type]
    link = MqttLink(settings, "reference", b"k" * 32)
    if link._receiver is not None:  # the receiver process's list (private: a test knob)
        link._receiver._config["max_pending"] = 2_000
    async with link:
        await asyncio.wait_for(link.wait_connected(), 20)
        pid = link.receiver_pid
        rss_before = rss_mb(pid) if pid is not None else 0.0
        with publisher(mqtt_broker) as client:
            infos = [client.publish(HEARTBEATS, f"{i:012d}".encode().ljust(PAYLOAD, b"."),
                                    qos=1) for i in range(MESSAGES)]

            def acked() -> None:
                for info in infos:
                    info.wait_for_publish(60)

            await asyncio.to_thread(acked)
        # Nobody handles anything: the link stops at the high-water mark (plus one frame).
        await until(lambda: link.stalls == 1, "the link to stall")
        await asyncio.sleep(1.0)
        taken = link.backlog
        assert HIGH <= taken <= HIGH + 5_000 + 2_000, taken
        queued: list[list[Inbound]] = list(link.batches._queue)  # type: ignore[attr-defined]
        assert sum(len(b) for b in queued) == taken
        if pid is not None:  # 60 MB went through the broker; the receiver kept a few
            assert rss_mb(pid) - rss_before < 30, (rss_before, rss_mb(pid))
        # The server catches up: everything arrives, once, in order.
        got: list[Inbound] = []
        deadline = time.monotonic() + 60
        while len(got) < MESSAGES:
            assert time.monotonic() < deadline, f"only {len(got)} of {MESSAGES} arrived"
            batch = await asyncio.wait_for(link.batches.get(), 15)
            got += batch
            link.handled(len(batch))
        assert [number(item) for item in got] == list(range(MESSAGES))
        assert link.backlog == 0 and link.stalls >= 1
