"""The session link the gateway (and every edge agent) publishes through, edge/link.py, on
a real Mosquitto: it publishes through aiomqtt's paho client directly and takes paho's
PUBACK callback, so it must leave aiomqtt's own publishing working and give back, on
close, the data it never got acked.  (Window, drain and order: tests/edge/
test_publishing.py.)"""

from __future__ import annotations

import asyncio

import aiomqtt
import pytest

from edge.link import Link


async def test_aiomqtt_publishes_still_complete_beside_the_link(shared_broker) -> None:
    """A publish made through aiomqtt itself (not the link) is still confirmed: the link
    hands PUBACKs that are not its own to aiomqtt."""
    async with aiomqtt.Client(shared_broker.host, shared_broker.port) as client:
        link = Link(client)
        link.send("cw-test/link/a", b"1", keep="a")
        async with asyncio.timeout(5):
            await client.publish("cw-test/link/own", b"x", qos=1)
            await link.drain()
        assert link.in_flight == 0
        assert link.close() == []


async def test_close_returns_the_unacked_keep_tokens_oldest_first(shared_broker) -> None:
    """Publishes closed before their PUBACK give back their keep tokens in send order
    (publishes without a token give nothing); the link refuses to send afterwards and
    aiomqtt gets paho's PUBACK callback back."""
    async with aiomqtt.Client(shared_broker.host, shared_broker.port) as client:
        aiomqtt_on_publish = client._client.on_publish
        link = Link(client)
        assert client._client.on_publish != aiomqtt_on_publish
        for token in ("a", None, "b", "c"):
            link.send("cw-test/link/b", b"1", keep=token)
        assert link.in_flight == 4
        assert link.close() == ["a", "b", "c"]  # no loop turn yet: nothing was acked
        assert link.lost.is_set() and link.in_flight == 0
        with pytest.raises(aiomqtt.MqttError):
            link.send("cw-test/link/b", b"2")
        with pytest.raises(aiomqtt.MqttError):
            await link.room()
        assert client._client.on_publish == aiomqtt_on_publish
        async with asyncio.timeout(5):
            await client.publish("cw-test/link/own", b"x", qos=1)


def test_a_client_without_its_paho_client_is_refused() -> None:
    with pytest.raises(TypeError, match="paho client"):
        Link(object())  # type: ignore[arg-type]
