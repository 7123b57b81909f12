"""Per-device error counters against real pymodbus servers: exception responses,
out-of-range values and timeouts are counted, logged once per device and reason (not once
per poll), and published in the device's births and periodic full reports."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from edge.drivers.base import MetricsChanged
from gateway.bus import Bus
from gateway.config import TcpBusConfig
from gateway.device import ERROR_METRICS, LAST_ERROR_METRIC, ModbusDevice
from protocol.messages import DeviceBirth, DeviceData, DeviceLost
from protocol.profiles import DeviceProfile, ProfileSet
from protocol.reasons import detail_text
from simulators.devices.models import make_model
from simulators.devices.server import FieldDevice
from tests.edge.conftest import Seen, watching
from tests.gateway.conftest import FAST_HEALTH, mqtt_gateway, rig, spec


def _shifted(profile: DeviceProfile, by: int) -> DeviceProfile:
    """The profile with every point moved ``by`` registers: the device has none there."""
    assert profile.modbus is not None
    moved = profile.modbus.model_copy(update={"points": {
        n: p.model_copy(update={"address": p.address + by})
        for n, p in profile.modbus.points.items()}})
    return profile.model_copy(update={"modbus": moved})


def _errors_logged(caplog: pytest.LogCaptureFixture, device: str) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno == logging.ERROR and f"device {device} " in r.getMessage()]


async def test_exception_responses_are_counted_per_device_and_logged_once(
        profiles: ProfileSet, caplog: pytest.LogCaptureFixture) -> None:
    """Five polls answered with exception 2: five counted, one error logged, the counter
    and the reason in the device's metrics; a healthy device beside it counts nothing."""
    caplog.set_level(logging.INFO)
    async with rig([("smoke-a", profiles["smoke"])]) as r:
        bus = Bus(TcpBusConfig(id="b", host="127.0.0.1", port=r.fields["smoke-a"].port))
        device = ModbusDevice(spec("smoke-x", _shifted(profiles["smoke"], 40), "b"), bus,
                              FAST_HEALTH)
        try:
            for _ in range(5):
                assert await device.poll_once() is False
        finally:
            bus.close()
        healthy = r.gateway.devices["smoke-a"]
        assert sum(healthy.errors.values()) == 0
        assert healthy.metrics()[ERROR_METRICS["exception"]] == 0
    assert device.errors["exception"] == 5
    metrics = device.metrics()
    assert metrics[ERROR_METRICS["exception"]] == 5
    assert metrics[ERROR_METRICS["timeout"]] == 0
    assert "exception 2 (illegal data address)" in str(metrics[LAST_ERROR_METRIC])
    logged = _errors_logged(caplog, "smoke-x")
    assert len(logged) == 1 and "exception" in logged[0]


async def test_a_value_outside_its_range_is_unknown_counted_and_logged_once(
        profiles: ProfileSet, caplog: pytest.LogCaptureFixture) -> None:
    """An env sensor reading 200 °C (its profile says -40..85): the temperature is reported
    as None (not a reading), the device stays online, each such poll is counted, one error
    is logged; a valid reading afterwards is reported again."""
    caplog.set_level(logging.INFO)
    async with rig([("env-a", profiles["env"])], poll_ms=100) as r:
        env = r.gateway.devices["env-a"]
        r.fields["env-a"].model.set_metrics(temperature=200.0)
        await r.recorder.wait_for(lambda d, u: isinstance(u, MetricsChanged)
                                  and "temperature" in u.metrics
                                  and u.metrics["temperature"] is None)
        polls = env.polls
        while env.polls < polls + 3:  # noqa: ASYNC110 - an unchanged value emits nothing
            await asyncio.sleep(0.05)
        assert env.online and env.errors["out_of_range"] >= 3
        assert "temperature reads 200" in str(env.metrics()[LAST_ERROR_METRIC])
        mark = r.recorder.mark()
        r.fields["env-a"].model.set_metrics(temperature=23.5)
        back = await r.recorder.wait_for(lambda d, u: isinstance(u, MetricsChanged)
                                         and "temperature" in u.metrics, after=mark)
        assert isinstance(back, MetricsChanged)
        assert isinstance(back.metrics["temperature"], float)
        assert 22.5 < back.metrics["temperature"] < 24.5
    logged = _errors_logged(caplog, "env-a")
    assert len(logged) == 1 and "out_of_range" in logged[0]


async def test_counters_reach_the_server_in_births_and_full_reports(
        mqtt_broker, profiles: ProfileSet, tmp_path: Path) -> None:
    """On Mosquitto: births carry every counter at 0; out-of-range readings show in the
    next periodic full report; a hung device is lost, and its new birth counts the
    timeouts that lost it."""
    env = FieldDevice(make_model(profiles["env"]), device_id="env-holding-1")
    door = FieldDevice(make_model(profiles["door"]), device_id="door-holding-1")
    async with env, door, watching(mqtt_broker.port) as w:
        # speed 30: the env profile's 30 s full report comes every second.
        async with mqtt_gateway(mqtt_broker.url, tmp_path, [env, door], speed=30) as gw:
            await gw.wait_connected()
            birth = await w.wait_for(_of(DeviceBirth, "env-holding-1"))
            assert isinstance(birth.message, DeviceBirth)
            assert {birth.message.metrics[m] for m in ERROR_METRICS.values()} == {0}
            assert birth.message.metrics[LAST_ERROR_METRIC] == ""

            env.model.set_metrics(temperature=150.0)

            def counted(s: Seen) -> bool:
                return isinstance(s.message, DeviceData) \
                    and s.topic.device == "env-holding-1" \
                    and s.message.metrics.get(ERROR_METRICS["out_of_range"], 0) != 0
            report = await w.wait_for(counted)
            assert isinstance(report.message, DeviceData)
            assert report.message.metrics["temperature"] is None
            assert "temperature reads 150" in str(report.message.metrics[LAST_ERROR_METRIC])

            mark = len(w.seen)
            door.hang()
            lost = await w.wait_for(_of(DeviceLost, "door-holding-1"), after=mark)
            assert isinstance(lost.message, DeviceLost)
            assert "no answer within" in lost.message.reason
            info = lost.message.info
            assert info["code"] == "timeout" and info["request"].startswith("read "), info
            assert detail_text(info, "zh").startswith(f"{info['ms']} 毫秒内无应答 (read ")
            door.unhang()
            reborn = await w.wait_for(_of(DeviceBirth, "door-holding-1"), after=mark)
            assert isinstance(reborn.message, DeviceBirth)
            timeouts = reborn.message.metrics[ERROR_METRICS["timeout"]]
            assert isinstance(timeouts, int) and timeouts >= FAST_HEALTH.lost_after
            assert reborn.message.metrics["open"] is False


def _of(kind: type, device: str):
    return lambda s: isinstance(s.message, kind) and s.topic.device == device


async def test_a_gateway_bug_in_one_device_is_counted_and_logged_once_with_its_traceback(
        profiles: ProfileSet, caplog: pytest.LogCaptureFixture) -> None:
    """A poll that raises (a bug, not a device fault): counted as internal on every poll,
    logged once with its traceback; the device beside it keeps polling."""
    caplog.set_level(logging.INFO)
    async with rig([("panic-a", profiles["panic"]), ("panic-b", profiles["panic"])],
                   poll_ms=50) as r:
        broken = r.gateway.devices["panic-a"]

        async def bug() -> bool:
            raise RuntimeError("decoder bug")
        broken.poll_once = bug  # type: ignore[method-assign]
        other = r.gateway.devices["panic-b"]
        polls = other.polls
        while broken.errors["internal"] < 4:  # noqa: ASYNC110 - counted, nothing emitted
            await asyncio.sleep(0.05)
        assert other.polls > polls
        assert "decoder bug" in str(broken.metrics()[LAST_ERROR_METRIC])
    logged = [rec for rec in caplog.records
              if rec.levelno == logging.ERROR and "device panic-a " in rec.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is not None
