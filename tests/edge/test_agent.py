"""The edge agent against a real private Mosquitto: session, events, commands."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import msgspec

from edge.agent import EdgeAgent
from edge.drivers.simulated import SimulatedReader
from protocol.codec import now_ms, sign_command
from protocol.messages import (
    Command,
    CommandResult,
    DeviceBirth,
    DeviceData,
    DeviceEvent,
    EventAck,
    NodeBirth,
    NodeDeath,
    NodeHeartbeat,
    ServerState,
)
from protocol.topics import NodeMessage, node_topic, server_state_topic
from tests.edge.conftest import KEY, Seen, agent_options, node_drivers, publish, watching


def _is(kind: type, device: str | None = None) -> Callable[[Seen], bool]:
    def predicate(s: Seen) -> bool:
        return isinstance(s.message, kind) and (device is None or s.topic.device == device)
    return predicate


async def test_birth_then_device_births_numbered_from_zero(mqtt_broker, site, profiles,
                                                          tmp_path: Path) -> None:
    """A new session starts with NodeBirth seq 0, then one DeviceBirth per device, seq 1, 2…"""
    drivers = node_drivers(site, profiles, "edge-intake")
    async with watching(mqtt_broker.port) as w:
        async with EdgeAgent(agent_options(mqtt_broker.url, tmp_path), drivers) as agent:
            await agent.wait_connected()
            await w.wait_for(_is(DeviceBirth, drivers[-1].id))
    births = [s for s in w.seen if isinstance(s.message, NodeBirth | DeviceBirth)]
    assert isinstance(births[0].message, NodeBirth)
    assert births[0].message.bdseq == 0
    assert {d.id for d in births[0].message.devices} == {d.id for d in drivers}
    assert [s.message.seq for s in births  # type: ignore[attr-defined]
            ] == list(range(len(drivers) + 1))
    assert [s.topic.device for s in births[1:]] == [d.id for d in drivers]


async def test_heartbeats_and_periodic_reports_arrive(mqtt_broker, site, profiles,
                                                      tmp_path: Path) -> None:
    """The node heartbeats and each device sends a full report at its scaled interval."""
    drivers = node_drivers(site, profiles, "edge-intake")
    camera = next(d for d in drivers if d.profile.id == "camera")
    async with watching(mqtt_broker.port) as w:
        # speed 50: the camera's 5 s heartbeat becomes 0.1 s, the node's 1 s stays 1 s.
        options = agent_options(mqtt_broker.url, tmp_path, heartbeat_s=0.1, speed=50)
        async with EdgeAgent(options, drivers):
            hb = await w.wait_for(_is(NodeHeartbeat))
            report = await w.wait_for(_is(DeviceData, camera.id))
    assert isinstance(hb.message, NodeHeartbeat) and hb.message.seq > len(drivers)
    assert isinstance(report.message, DeviceData)
    assert set(report.message.metrics) == set(camera.profile.metrics)


async def test_clean_shutdown_publishes_death_of_the_session(mqtt_broker, site, profiles,
                                                             tmp_path: Path) -> None:
    """Leaving the context publishes NodeDeath with the session's bdseq; bdseq persists."""
    drivers = node_drivers(site, profiles, "edge-intake")
    async with watching(mqtt_broker.port) as w:
        for expected in (0, 1):
            async with EdgeAgent(agent_options(mqtt_broker.url, tmp_path), drivers) as agent:
                await agent.wait_connected()
            def death_of(s: Seen, bdseq: int = expected) -> bool:
                return isinstance(s.message, NodeDeath) and s.message.bdseq == bdseq
            death = await w.wait_for(death_of)
            assert death.topic.node == "edge-intake"


async def test_event_kept_until_acked_and_replayed_as_history(mqtt_broker, site, profiles,
                                                              tmp_path: Path) -> None:
    """An event stays in the outbox until an EventAck names it; after the broker restarts it
    is re-published with hist=True and its original ts; data made while away is replayed."""
    drivers = node_drivers(site, profiles, "edge-intake")
    reader = next(d for d in drivers if isinstance(d, SimulatedReader))
    env_like = next(d for d in drivers if d.id == "search-body-check-1")
    # The first reconnect comes 1-2 s after the loss: time for the new watcher to subscribe.
    options = agent_options(mqtt_broker.url, tmp_path, backoff_min_s=2.0, backoff_max_s=2.0)
    async with EdgeAgent(options, drivers) as agent:
        async with watching(mqtt_broker.port) as w:
            await agent.wait_connected()
            reader.enter("wb-S1")
            live = await w.wait_for(_is(DeviceEvent, reader.id))
        event = live.message
        assert isinstance(event, DeviceEvent) and not event.hist
        assert event.data == {"tag": "wb-S1"}
        assert [e.id for e in agent.outbox.pending()] == [event.id]

        mqtt_broker.stop()
        env_like.set(in_progress="S9")  # reported while disconnected
        mqtt_broker.start()
        async with watching(mqtt_broker.port) as w:
            replayed = await w.wait_for(lambda s: isinstance(s.message, DeviceEvent)
                                        and s.message.id == event.id)
            data = await w.wait_for(_is(DeviceData, env_like.id))
            assert isinstance(replayed.message, DeviceEvent)
            assert replayed.message.hist and replayed.message.ts == event.ts
            assert isinstance(data.message, DeviceData) and data.message.hist
            assert data.message.metrics == {"in_progress": "S9"}

            await publish(mqtt_broker.port, node_topic("reference", "edge-intake",
                                                       NodeMessage.ACK),
                          EventAck(ts=now_ms(), ids=[event.id]))
            # The ack is processed in order with later downlink: a rebirth command after it
            # proves it was seen once its result arrives.
            await _command(mqtt_broker.port, "edge-intake", "ack-fence-0001", "rebirth")
            await w.wait_for(lambda s: isinstance(s.message, CommandResult))
        assert agent.outbox.pending() == []


async def _command(port: int, node: str, cid: str, name: str, *, key: bytes = KEY,
                   expires_in_ms: int = 60_000, device: str | None = None) -> Command:
    command = sign_command(Command(ts=now_ms(), id=cid, name=name, device=device,
                                   expires=now_ms() + expires_in_ms), key)
    await publish(port, node_topic("reference", node, NodeMessage.CMD), command)
    return command


async def test_forged_expired_and_replayed_commands_are_refused(mqtt_broker, site, profiles,
                                                                tmp_path: Path) -> None:
    """Bad HMAC → refused, past expiry → expired, an id already executed → refused; a good
    command reaches the driver and is answered done."""
    drivers = node_drivers(site, profiles, "edge-intake")
    async with watching(mqtt_broker.port) as w:
        async with EdgeAgent(agent_options(mqtt_broker.url, tmp_path), drivers) as agent:
            await agent.wait_connected()

            async def result_of(cid: str) -> CommandResult:
                seen = await w.wait_for(lambda s: isinstance(s.message, CommandResult)
                                        and s.message.id == cid)
                assert isinstance(seen.message, CommandResult)
                return seen.message

            await _command(mqtt_broker.port, "edge-intake", "forged-0001", "reboot",
                           key=b"wrong key", device="camera-entrance")
            assert (await result_of("forged-0001")).status == "refused"
            await _command(mqtt_broker.port, "edge-intake", "expired-0001", "reboot",
                           expires_in_ms=-1000, device="camera-entrance")
            assert (await result_of("expired-0001")).status == "expired"
            good = await _command(mqtt_broker.port, "edge-intake", "good-00001", "reboot",
                                  device="camera-entrance")
            assert (await result_of("good-00001")).status == "done"
            mark = len(w.seen)
            await publish(mqtt_broker.port, node_topic("reference", "edge-intake",
                                                       NodeMessage.CMD), good)
            replay = await w.wait_for(lambda s: isinstance(s.message, CommandResult)
                                      and s.message.id == good.id, after=mark)
            assert isinstance(replay.message, CommandResult)
            assert (replay.message.status, replay.message.detail) == ("refused", "replay")


async def test_server_coming_back_online_triggers_rebirth(mqtt_broker, site, profiles,
                                                          tmp_path: Path) -> None:
    """ServerState online after offline makes the node re-send its births (seq from 0)."""
    drivers = node_drivers(site, profiles, "edge-common")
    state = server_state_topic("reference")
    await publish(mqtt_broker.port, state, ServerState(ts=now_ms(), online=True, session="a"),
                  retain=True)
    async with watching(mqtt_broker.port) as w:
        async with EdgeAgent(agent_options(mqtt_broker.url, tmp_path, node="edge-common"),
                             drivers) as agent:
            await agent.wait_connected()
            await w.wait_for(_is(ServerState))
            await publish(mqtt_broker.port, state, ServerState(ts=now_ms(), online=False))
            mark = len(w.seen)
            await publish(mqtt_broker.port, state,
                          ServerState(ts=now_ms(), online=True, session="b"))
            rebirth = await w.wait_for(_is(NodeBirth), after=mark)
    assert isinstance(rebirth.message, NodeBirth) and rebirth.message.seq == 0
    births = [s for s in w.seen if isinstance(s.message, NodeBirth)]
    assert len(births) == 2 and msgspec.structs.asdict(births[0].message)["bdseq"] == 0
