"""The embedded demo broker (amqtt) carries the protocol's needs: many clients connecting
at once, retained state, Wills."""

from __future__ import annotations

import asyncio

import aiomqtt

from server.broker import embedded_broker
from tests.conftest import free_port


async def test_many_clients_connecting_at_once_all_get_messages() -> None:
    """Twenty clients connect and subscribe concurrently (as the simulated centre's agents
    do); each receives a retained message and a live one — none is dropped by the broker's
    subscription-table race (server/broker.py _SnapshotDict)."""
    port = free_port()
    async with embedded_broker(port):
        async with aiomqtt.Client("127.0.0.1", port, identifier="publisher") as pub:
            await pub.publish("cw/test/state", b"retained", qos=1, retain=True)
            await pub.subscribe("cw/test/#", qos=1)  # retained messages to hand out
            for n in range(100):  # a broker with a realistic subscription table
                await pub.subscribe(f"cw/existing/{n}/#", qos=1)

            async def client(n: int) -> list[bytes]:
                got: list[bytes] = []
                async with aiomqtt.Client("127.0.0.1", port, identifier=f"c{n}") as c:
                    await c.subscribe("cw/test/#", qos=1)
                    for k in range(5):
                        await c.subscribe(f"cw/other/{n}/{k}", qos=1)
                    async for message in c.messages:
                        got.append(bytes(message.payload))  # type: ignore[arg-type]
                        if got[-1] == b"live":
                            return got
                return got

            tasks = [asyncio.create_task(client(n)) for n in range(30)]
            await asyncio.sleep(1.0)
            await pub.publish("cw/test/live", b"live", qos=1)
            results = await asyncio.wait_for(asyncio.gather(*tasks), 10)
    # (amqtt may hand a retained message out twice: harmless, births are idempotent.)
    assert all(r[-1] == b"live" and b"retained" in r for r in results), results


async def test_will_is_delivered_when_a_client_vanishes() -> None:
    """A node's death (its MQTT Will) reaches the server when its connection drops."""
    port = free_port()
    async with embedded_broker(port), \
            aiomqtt.Client("127.0.0.1", port, identifier="server") as server:
        await server.subscribe("cw/node/+/death", qos=1)
        node = aiomqtt.Client("127.0.0.1", port, identifier="node",
                              will=aiomqtt.Will("cw/node/n1/death", b"dead", qos=1))
        await node.__aenter__()
        node._client.socket().close()  # vanish without DISCONNECT
        async with asyncio.timeout(10):
            async for message in server.messages:
                assert message.payload == b"dead"
                break
