"""The gateway as an edge node on a real Mosquitto: births with polled values, events by
exception, DeviceLost for a dead slave while the node lives, a birth when it answers again,
and signed commands answered with done / refused / timeout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from protocol.codec import now_ms, sign_command
from protocol.messages import (
    Command,
    CommandResult,
    DeviceBirth,
    DeviceEvent,
    DeviceLost,
    NodeBirth,
    NodeDeath,
)
from protocol.profiles import ProfileSet
from protocol.reasons import detail_text
from protocol.topics import NodeMessage, node_topic
from simulators.devices.models import PanicModel, make_model
from simulators.devices.server import FieldDevice
from tests.edge.conftest import KEY, publish, watching
from tests.gateway.conftest import mqtt_gateway

NODE = "gw-1"


def device_message(kind: type, device: str) -> Any:
    return lambda s: isinstance(s.message, kind) and s.topic.device == device


async def command(port: int, cid: str, name: str, device: str, **params: Any) -> None:
    signed = sign_command(Command(ts=now_ms(), id=cid, name=name, device=device,
                                  params=params, expires=now_ms() + 60_000), KEY)
    await publish(port, node_topic("reference", NODE, NodeMessage.CMD), signed)


def result(cid: str) -> Any:
    return lambda s: isinstance(s.message, CommandResult) and s.message.id == cid


async def test_gateway_session_end_to_end_on_mosquitto(mqtt_broker, profiles: ProfileSet,
                                                       tmp_path: Path) -> None:
    """Births carry polled values; a press is an event; a powered-off door is DeviceLost
    (the node stays up) and born again when back; unlock is done, a command to the dead
    door times out, an unknown param is refused; a clean stop publishes NodeDeath."""
    panic_model = make_model(profiles["panic"])
    assert isinstance(panic_model, PanicModel)
    panic = FieldDevice(panic_model, device_id="panic-holding-1")
    door = FieldDevice(make_model(profiles["door"]), device_id="door-holding-1")
    async with panic, door, watching(mqtt_broker.port) as w:
        async with mqtt_gateway(mqtt_broker.url, tmp_path, [panic, door]) as gw:
            await gw.wait_connected()
            birth = await w.wait_for(lambda s: isinstance(s.message, NodeBirth))
            assert isinstance(birth.message, NodeBirth) and birth.message.kind == "gateway"
            assert {d.id for d in birth.message.devices} == {"panic-holding-1",
                                                             "door-holding-1"}
            door_birth = await w.wait_for(device_message(DeviceBirth, "door-holding-1"))
            assert isinstance(door_birth.message, DeviceBirth)
            profile_metrics = {k: v for k, v in door_birth.message.metrics.items()
                               if not k.startswith("modbus_")}
            assert profile_metrics == {"open": False, "locked": True, "forced": False}

            panic_model.press()
            pressed = await w.wait_for(device_message(DeviceEvent, "panic-holding-1"))
            assert isinstance(pressed.message, DeviceEvent)
            assert pressed.message.kind == "panic_pressed"
            assert pressed.message.metrics == {"pressed": True}

            await command(mqtt_broker.port, "cmd-unlock-0001", "unlock", "door-holding-1",
                          duration_s=10)
            done = await w.wait_for(result("cmd-unlock-0001"))
            assert isinstance(done.message, CommandResult) and done.message.status == "done"

            await command(mqtt_broker.port, "cmd-bad-param-01", "unlock", "door-holding-1",
                          seconds=10)
            bad = await w.wait_for(result("cmd-bad-param-01"))
            assert isinstance(bad.message, CommandResult) and bad.message.status == "refused"

            mark = len(w.seen)
            await door.stop()
            lost = await w.wait_for(device_message(DeviceLost, "door-holding-1"), after=mark)
            assert isinstance(lost.message, DeviceLost)
            assert lost.message.reason.startswith("cannot connect to bus door-holding-1 "
                                                  "(127.0.0.1:")
            # Why, as data the server words in Chinese (protocol/reasons.py).
            info = lost.message.info
            assert info["code"] == "unreachable" and info["host"] == "127.0.0.1", info
            assert detail_text(info, "zh") == f"无法连接 127.0.0.1:{info['port']}"
            await command(mqtt_broker.port, "cmd-dead-door-01", "lock", "door-holding-1")
            dead = await w.wait_for(result("cmd-dead-door-01"))
            assert isinstance(dead.message, CommandResult)
            assert dead.message.status == "timeout"

            mark = len(w.seen)
            await door.start()
            await w.wait_for(device_message(DeviceBirth, "door-holding-1"), after=mark)
        await w.wait_for(lambda s: isinstance(s.message, NodeDeath))
    deaths = [s for s in w.seen if isinstance(s.message, NodeDeath)]
    assert len(deaths) == 1
    lost_seen = [s for s in w.seen if isinstance(s.message, DeviceLost)]
    assert {s.topic.device for s in lost_seen} == {"door-holding-1"}

