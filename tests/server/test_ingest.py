"""MQTT ingest through a real server: hostile payloads, births, events and their acks,
rebirth requests."""

from __future__ import annotations

import asyncio
from functools import partial
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from protocol import topics
from protocol.codec import decode, verify_command
from protocol.messages import Command, EventAck, ServerState
from server.config import MqttSettings
from server.ingest import Inbound, MqttLink
from server.store.sqlite import SqliteStore
from tests.conftest import Broker
from tests.server.test_api_support import (
    COMMAND_KEY,
    SITE,
    FakeNode,
    running_server,
    wait_until,
)

pytestmark = pytest.mark.usefixtures("server_credentials")


async def test_hostile_payloads_are_counted_and_harmless(tmp_path: Path,
                                                         mqtt_broker: Broker) -> None:
    """Not JSON, oversized, wrong schema, unknown node and unknown device are each counted
    under their reason in /metrics, and the server keeps answering."""
    async with running_server(tmp_path, mqtt_broker.url) as srv:
        node = FakeNode(mqtt_broker.port, "edge-intake")
        try:
            birth = topics.node_topic(SITE, "edge-intake", topics.NodeMessage.BIRTH)
            node.publish_raw(birth, b"\xff not json")
            node.publish_raw(birth, b"{" + b" " * 70_000 + b"}")
            node.publish_raw(birth, b'{"v": 1, "ts": 1, "seq": "zero"}')
            node.publish_raw(topics.node_topic(SITE, "edge-nowhere", topics.NodeMessage.BIRTH),
                             b'{"v":1,"ts":1,"seq":0,"bdseq":0,"kind":"edge","devices":[],'
                             b'"heartbeat_s":10}')
            node.birth()
            node.event("reader-nowhere", "tag_enter", {"tag": "wb-X"})
            for reason in ("json", "too_large", "schema", "unknown_node", "unknown_device"):
                await wait_until(partial(srv.metric, "custodywatch_bad_messages_total",
                                         reason=reason), what=reason)
            assert (await srv.get("/api/zones")).status_code == 200
            assert (await srv.http.get("/healthz")).status_code == 200
        finally:
            node.close()


async def test_births_make_devices_online(tmp_path: Path, mqtt_broker: Broker) -> None:
    """A node birth then a device birth make the device online with its metrics."""
    async with running_server(tmp_path, mqtt_broker.url) as srv:
        node = FakeNode(mqtt_broker.port, "edge-interview")
        try:
            node.birth()
            node.device_birth("camera-interrogation-2", "camera", {"online": True, "fps": 25.0})

            async def online() -> dict[str, Any] | None:
                devices = (await srv.get("/api/devices")).json()
                d = next(d for d in devices if d["id"] == "camera-interrogation-2")
                return d if d["status"] == "online" else None

            device = await wait_until(online, what="camera online")
            assert device is not None
            assert device["metrics"] == {"online": True, "fps": 25.0}
            assert device["last_seen"].endswith("Z")
        finally:
            node.close()


async def test_event_is_stored_and_acked(tmp_path: Path, mqtt_broker: Broker) -> None:
    """A device event is stored, then acknowledged with its id on the node's ack topic; a
    replay of the same event is acknowledged again and stored once."""
    async with running_server(tmp_path, mqtt_broker.url):
        node = FakeNode(mqtt_broker.port, "edge-intake")
        ack_topic = topics.node_topic(SITE, "edge-intake", topics.NodeMessage.ACK)
        try:
            node.birth()
            node.device_birth("reader-entrance", "reader")
            event_id = node.event("reader-entrance", "tag_enter", {"tag": "badge-O9"})
            _, payload = await node.expect(lambda t, p: t == ack_topic)
            assert decode(payload, EventAck).ids == [event_id]
            # Replay (as an edge does when our ack was lost): same id, acked again.
            node.event("reader-entrance", "tag_enter", {"tag": "badge-O9"}, event_id=event_id)
            _, payload = await node.expect(lambda t, p: t == ack_topic)
            assert decode(payload, EventAck).ids == [event_id]
        finally:
            node.close()
    async with SqliteStore(tmp_path) as store:
        events = await store.recent_events(device="reader-entrance")
    assert [e.id for e in events] == [event_id]
    assert events[0].kind == "tag_enter" and events[0].data == {"tag": "badge-O9"}


async def test_data_without_birth_asks_for_signed_rebirth(tmp_path: Path,
                                                          mqtt_broker: Broker) -> None:
    """Data from a node the server holds no birth for gets a signed 'rebirth' command,
    and the server's retained state says online with a session."""
    async with running_server(tmp_path, mqtt_broker.url):
        node = FakeNode(mqtt_broker.port, "edge-common")
        cmd_topic = topics.node_topic(SITE, "edge-common", topics.NodeMessage.CMD)
        state_topic = topics.server_state_topic(SITE)
        try:
            _, state = await node.expect(lambda t, p: t == state_topic)
            server_state = decode(state, ServerState)
            assert server_state.online and server_state.session
            node.device_birth("camera-corridor-a", "camera")
            _, payload = await node.expect(lambda t, p: t == cmd_topic)
            command = decode(payload, Command)
            assert command.name == "rebirth" and command.device is None
            verify_command(command, COMMAND_KEY.encode())
        finally:
            node.close()
    # After a clean shutdown the retained state says offline.
    late = FakeNode(mqtt_broker.port, "edge-common")
    try:
        _, state = await late.expect(lambda t, p: t == topics.server_state_topic(SITE))
        assert decode(state, ServerState).online is False
    finally:
        late.close()


async def test_link_hands_over_every_message_in_order_in_batches() -> None:
    """Messages arriving from paho's thread reach the event loop in order and complete, in
    fewer batches than messages while they keep coming; once quiet, the link stops
    looking and the next message is handed over on its own."""
    link = MqttLink(MqttSettings(receiver="thread"), SITE, b"k" * 32)
    link._loop = asyncio.get_running_loop()
    topic = topics.node_topic(SITE, "edge-intake", topics.NodeMessage.HEARTBEAT)

    def deliver(n: int, start: int = 0) -> None:
        for i in range(start, start + n):
            message = mqtt.MQTTMessage(topic=topic.encode())
            message.payload = str(i).encode()
            link._on_message(link._client, None, message)

    await asyncio.to_thread(deliver, 5000)
    got: list[Inbound] = []
    batches = 0
    while len(got) < 5000:
        got += await asyncio.wait_for(link.batches.get(), 5)
        batches += 1
    assert [int(item.payload) for item in got] == list(range(5000))
    assert all(item.topic == topic for item in got) and batches < 5000
    await asyncio.sleep(0.05)
    assert not link._drain_scheduled  # quiet: no timer left running
    await asyncio.to_thread(deliver, 1, 5000)
    late = await asyncio.wait_for(link.batches.get(), 5)
    assert [item.payload for item in late] == [b"5000"]
