"""The MQTT link's receivers against a real Mosquitto: order and batching through both, and
the receiver process's life (restart after a kill, re-subscription after a broker restart,
no orphan when the server dies)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client import CollectorRegistry

from protocol import topics
from protocol.codec import decode
from protocol.messages import ServerState
from server.config import MqttSettings, build_server_config
from server.ingest import Inbound, MqttLink
from tests.conftest import Broker

SITE = "reference"
HEARTBEATS = topics.node_topic(SITE, "edge-intake", topics.NodeMessage.HEARTBEAT)


@contextmanager
def publisher(broker: Broker) -> Iterator[mqtt.Client]:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        yield client
    finally:
        client.disconnect()
        client.loop_stop()


def publish_numbers(client: mqtt.Client, start: int, n: int) -> None:
    for i in range(start, start + n):
        client.publish(HEARTBEATS, str(i).encode(), qos=1)


async def receive(link: MqttLink, n: int) -> tuple[list[Inbound], int]:
    got: list[Inbound] = []
    batches = 0
    while len(got) < n:
        got += await asyncio.wait_for(link.batches.get(), 15)
        batches += 1
    return got, batches


async def until(check: Callable[[], bool], what: str, within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.parametrize("receiver", ["process", "thread"])
async def test_every_message_arrives_in_order_in_batches(mqtt_broker: Broker,
                                                         receiver: str) -> None:
    """5000 messages published at QoS 1 come out of ``link.batches`` complete, in order,
    as Inbound tuples with their arrival time, in fewer batches than messages; the
    process receiver is a child process of ours."""
    settings = MqttSettings(url=mqtt_broker.url, receiver=receiver)  # type: ignore[arg-type]
    async with MqttLink(settings, SITE, b"k" * 32) as link:
        await asyncio.wait_for(link.wait_connected(), 15)
        if receiver == "process":
            assert link.receiver_pid is not None and link.receiver_pid != os.getpid()
        else:
            assert link.receiver_pid is None
        before = time.time()
        with publisher(mqtt_broker) as client:
            await asyncio.to_thread(publish_numbers, client, 0, 5000)
            got, batches = await receive(link, 5000)
    assert [int(item.payload) for item in got] == list(range(5000))
    assert all(isinstance(item, Inbound) and item.topic == HEARTBEATS for item in got)
    assert before - 1 <= got[0].received <= got[-1].received <= time.time()
    assert batches < 5000


async def test_killed_receiver_is_restarted_and_counted(mqtt_broker: Broker) -> None:
    """SIGKILL of the receiver process: a new one is started, counted in
    ``custodywatch_mqtt_receiver_restarts_total``, and messages flow again."""
    registry = CollectorRegistry()
    async with MqttLink(MqttSettings(url=mqtt_broker.url), SITE, b"k" * 32) as link:
        link.register_metrics(registry)
        await asyncio.wait_for(link.wait_connected(), 15)
        first = link.receiver_pid
        assert first is not None
        with publisher(mqtt_broker) as client:
            await asyncio.to_thread(publish_numbers, client, 0, 10)
            assert [int(i.payload) for i in (await receive(link, 10))[0]] == list(range(10))
            os.kill(first, signal.SIGKILL)
            await until(lambda: not link.connected, "the link to notice the dead receiver")
            await asyncio.wait_for(link.wait_connected(), 15)
            assert link.receiver_pid not in (None, first)
            assert not alive(first)
            await asyncio.to_thread(publish_numbers, client, 10, 10)
            got, _ = await receive(link, 10)
        assert [int(i.payload) for i in got] == list(range(10, 20))
        assert link.receiver_restarts == 1
        assert registry.get_sample_value("custodywatch_mqtt_receiver_restarts_total") == 1.0


async def test_receiver_resubscribes_after_broker_restart(mqtt_broker: Broker) -> None:
    """The broker restarts (losing subscriptions and retained messages): the receiver
    reconnects and subscribes again, the server announces itself online again, and
    messages flow."""
    async with MqttLink(MqttSettings(url=mqtt_broker.url), SITE, b"k" * 32) as link:
        await asyncio.wait_for(link.wait_connected(), 15)
        pid = link.receiver_pid
        mqtt_broker.stop()
        await until(lambda: not link.connected, "the link down")
        mqtt_broker.start()
        await asyncio.wait_for(link.wait_connected(), 30)
        assert link.receiver_pid == pid  # paho reconnected; the process did not die
        with publisher(mqtt_broker) as client:
            states: list[ServerState] = []
            client.on_message = lambda c, u, m: states.append(decode(bytes(m.payload),
                                                                        ServerState))
            client.subscribe(topics.server_state_topic(SITE), qos=1)
            await asyncio.to_thread(publish_numbers, client, 0, 100)
            got, _ = await receive(link, 100)
            await until(lambda: bool(states), "the retained server state")
    assert [int(i.payload) for i in got] == list(range(100))
    assert states[-1].online and states[-1].session == link.session


def test_receiver_dies_with_the_server(mqtt_broker: Broker, tmp_path: Path) -> None:
    """A server process killed outright (no clean shutdown) leaves no receiver behind; one
    that exits cleanly has already stopped it."""
    script = tmp_path / "run_link.py"
    script.write_text(textwrap.dedent(f"""
        import asyncio, sys
        from server.config import MqttSettings
        from server.ingest import MqttLink

        async def main():
            async with MqttLink(MqttSettings(url={mqtt_broker.url!r}), "s", b"k" * 32) as link:
                await link.wait_connected()
                print(link.receiver_pid, flush=True)
                if sys.argv[1] == "hang":
                    await asyncio.sleep(3600)
            print(link.receiver_pid or 0, flush=True)

        asyncio.run(main())
    """))
    hung = subprocess.Popen([sys.executable, str(script), "hang"], stdout=subprocess.PIPE,
                            text=True)
    assert hung.stdout is not None
    child = int(hung.stdout.readline())
    assert alive(child)
    hung.kill()
    hung.wait(10)
    deadline = time.monotonic() + 10
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child), "the receiver outlived a killed server"

    done = subprocess.run([sys.executable, str(script), "exit"], capture_output=True,
                          text=True, timeout=60, check=True)
    child, after = (int(line) for line in done.stdout.split())
    assert child and not after and not alive(child)


def test_receiver_setting() -> None:
    """``mqtt.receiver`` defaults to the process receiver and accepts only the two."""
    assert build_server_config().mqtt.receiver == "process"
    assert build_server_config(mqtt={"receiver": "thread"}).mqtt.receiver == "thread"
    with pytest.raises(ValueError, match="receiver"):
        build_server_config(mqtt={"receiver": "fork"})
