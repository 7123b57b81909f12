"""The agent's publishing path: the bounded intake, batched outbox writes, pipelined QoS 1
publishes in seq order, and what happens to updates while the broker is down."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiomqtt

from edge.agent import EdgeAgent
from edge.drivers.base import Availability, DriverEvent, MetricsChanged
from edge.drivers.simulated import SimulatedDriver
from edge.intake import Intake
from edge.link import Link
from edge.outbox import Outbox, StoredEvent
from protocol.messages import DeviceData, DeviceEvent
from protocol.profiles import ProfileSet
from protocol.site import SiteConfig
from tests.edge.conftest import Seen, agent_options, node_drivers, watching


def _two(site: SiteConfig, profiles: ProfileSet) -> tuple[SimulatedDriver, SimulatedDriver]:
    drivers = node_drivers(site, profiles, "edge-intake")
    return drivers[0], drivers[1]


async def test_intake_coalesces_data_per_device_when_full_and_keeps_events(
        site: SiteConfig, profiles: ProfileSet) -> None:
    """Past max_items, a device's data merges into its own latest queued data (latest value
    per metric, latest ts); events and availability are kept, in order per device."""
    a, b = _two(site, profiles)
    intake = Intake(max_items=2)
    intake.put(a, MetricsChanged({"x": 1, "y": 1}, ts=1))
    intake.put(b, MetricsChanged({"x": 1}, ts=1))
    for i in range(2, 1000):
        intake.put(a, MetricsChanged({"x": i}, ts=i))
    intake.put(a, DriverEvent("door_opened", ts=1000))
    intake.put(a, MetricsChanged({"y": 7}, ts=1001))  # after an event: its own entry
    intake.put(a, MetricsChanged({"y": 8}, ts=1002))  # merged into that one
    intake.put(b, Availability(False, "gone"))
    assert len(intake) == 5 and intake.coalesced == 999
    batch = await intake.take()
    assert [(q.driver.id, type(q.update).__name__) for q in batch] == [
        (a.id, "MetricsChanged"), (b.id, "MetricsChanged"), (a.id, "DriverEvent"),
        (a.id, "MetricsChanged"), (b.id, "Availability")]
    first = batch[0].update
    assert isinstance(first, MetricsChanged)
    assert (first.metrics, first.ts) == ({"x": 999, "y": 1}, 999)
    assert batch[2].event is not None and batch[2].event.kind == "door_opened"
    later = batch[3].update
    assert isinstance(later, MetricsChanged) and later.metrics == {"y": 8}
    assert len(intake) == 0


async def test_intake_lingers_for_data_but_not_for_events(site: SiteConfig,
                                                         profiles: ProfileSet) -> None:
    """take(linger) gathers data for up to linger; an event ends the wait at once."""
    a, _ = _two(site, profiles)
    intake = Intake()
    intake.put(a, MetricsChanged({"x": 1}))
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert len(await intake.take(linger_s=0.2)) == 1
    assert loop.time() - started >= 0.15
    intake.put(a, MetricsChanged({"x": 2}))
    loop.call_later(0.02, intake.put, a, DriverEvent("door_opened"))
    started = loop.time()
    assert len(await intake.take(linger_s=5.0)) == 2
    assert loop.time() - started < 2.0


def test_outbox_stores_a_batch_in_one_call_oldest_first(tmp_path: Path) -> None:
    """add_many keeps every event of the batch, in order; the size bound still applies."""
    outbox = Outbox(tmp_path / "o.sqlite", max_events=5)
    try:
        events = [StoredEvent(id=f"ev-{i:05d}", device="d", ts=i, kind="door_opened",
                              data={}, metrics={"open": True}) for i in range(7)]
        outbox.add_many(events[:3])
        outbox.add_many(events[3:])
        outbox.add_many([])
        assert [e.id for e in outbox.pending()] == [e.id for e in events[2:]]
        assert outbox.remove(["ev-00003", "nope"]) == 1 and len(outbox) == 4
    finally:
        outbox.close()


async def test_a_burst_is_published_in_seq_order_without_waiting_per_message(
        mqtt_broker, site: SiteConfig, profiles: ProfileSet, tmp_path: Path) -> None:
    """500 data reports and 20 events from two drivers arrive complete, in seq order, each
    device's in the order it made them; the events are in the outbox until acked."""
    a, b = _two(site, profiles)
    async with watching(mqtt_broker.port) as w:
        async with EdgeAgent(agent_options(mqtt_broker.url, tmp_path), [a, b]) as agent:
            await agent.wait_connected()
            mark = len(w.seen)
            for i in range(250):
                a.emit(MetricsChanged({"n": i}))
                b.emit(MetricsChanged({"n": i}))
                if i % 25 == 0:
                    a.emit(DriverEvent("door_opened", metrics={"n": i}))
                    b.emit(DriverEvent("door_opened", metrics={"n": i}))

            def last_of(s: Seen) -> bool:
                return isinstance(s.message, DeviceData) and s.topic.device == b.id \
                    and s.message.metrics == {"n": 249}
            await w.wait_for(last_of, after=mark)
            assert len(agent.outbox) == 20
    burst = [(s.topic.device, s.message) for s in w.seen[mark:]
             if isinstance(s.message, DeviceData | DeviceEvent)]
    seqs = [m.seq for _, m in burst]
    assert len(burst) == 520 and seqs == list(range(seqs[0], seqs[0] + 520))
    for driver in (a, b):
        values = [m.metrics["n"] for device, m in burst
                  if device == driver.id and isinstance(m, DeviceData)]
        assert values == list(range(250))


async def test_while_the_broker_is_down_drivers_never_wait_and_memory_stays_bounded(
        mqtt_broker, site: SiteConfig, profiles: ProfileSet, tmp_path: Path) -> None:
    """Broker down: 20,000 data reports cost one buffered report per device (the latest
    values, replayed as history), events go to the disk outbox; on reconnect both are
    published after the births."""
    a, b = _two(site, profiles)
    # The first reconnect comes 1.5-3 s after the loss: the watcher subscribes before it.
    options = agent_options(mqtt_broker.url, tmp_path, backoff_min_s=3.0, backoff_max_s=3.0)
    async with EdgeAgent(options, [a, b]) as agent:
        await agent.wait_connected()
        mqtt_broker.stop()
        await asyncio.wait_for(_disconnected(agent), 10)
        for i in range(10_000):
            a.emit(MetricsChanged({"n": i}))
            b.emit(MetricsChanged({"m": i}))
        a.emit(DriverEvent("door_opened", metrics={"open": True}))
        await asyncio.sleep(0.1)  # the pump has drained the intake
        assert len(agent.intake) == 0
        assert len(agent._buffered) == 2  # one per device, whatever the count
        assert len(agent.outbox) == 1
        async with watching_after_restart(mqtt_broker) as w:
            data_a = await w.wait_for(lambda s: isinstance(s.message, DeviceData)
                                      and s.topic.device == a.id)
            await w.wait_for(lambda s: isinstance(s.message, DeviceEvent))
    assert isinstance(data_a.message, DeviceData) and data_a.message.hist
    assert data_a.message.metrics == {"n": 9_999}


async def _disconnected(agent: EdgeAgent) -> None:
    while agent.connected.is_set():  # noqa: ASYNC110 - the agent has no "disconnected" event
        await asyncio.sleep(0.02)


def watching_after_restart(broker):
    broker.start()
    return watching(broker.port)


async def test_link_keeps_many_publishes_in_flight_and_delivers_them_in_order(
        mqtt_broker) -> None:
    """send() returns before the PUBACK: 300 QoS 1 publishes are in flight at once (the
    window holds the 301st back), then all are acked and arrive in the order sent."""
    received: list[bytes] = []
    async with aiomqtt.Client("127.0.0.1", mqtt_broker.port) as sub, \
            aiomqtt.Client("127.0.0.1", mqtt_broker.port) as pub:
        await sub.subscribe("t/#", qos=1)
        link = Link(pub, window=300)
        for i in range(300):
            link.send("t/x", str(i).encode())
        assert link.in_flight == 300
        waiting = asyncio.create_task(link.room())
        await asyncio.sleep(0)
        assert not waiting.done()  # the window is full until PUBACKs come back
        await link.drain()
        await waiting
        assert link.in_flight == 0
        async with asyncio.timeout(10):
            async for message in sub.messages:
                assert isinstance(message.payload, bytes)
                received.append(message.payload)
                if len(received) == 300:
                    break
        link.close()
    assert received == [str(i).encode() for i in range(300)]
