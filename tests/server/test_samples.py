"""The recent time series: telemetry samples stored with the step's transaction, pruned
after the retention, and read back through GET /api/devices/{id}/samples."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from protocol import topics
from protocol.codec import now_ms
from protocol.config import ConfigError
from protocol.messages import DeviceData
from protocol.profiles import load_profiles
from protocol.site import load_site
from server.alarms.lifecycle import AlarmBook
from server.config import StorageSettings, build_server_config, load_server_config
from server.hub import Hub
from server.metrics import ServerMetrics
from server.rules.engine import RuleEngine
from server.service import Coordinator
from server.store.records import EventRecord, SampleRecord, WriteBatch
from server.store.sqlite import SqliteStore
from server.twin import Twin
from tests.conftest import Broker
from tests.server.test_api_support import (
    SITE,
    FakeNode,
    running_server,
    wait_until,
)

T0 = 1_700_000_000_000  # ms


def _sample(device: str, ts: int, received: float, **metrics: object) -> SampleRecord:
    return SampleRecord(device, ts, received, dict(metrics))


async def test_samples_are_stored_with_the_step_and_read_back(tmp_path: Path) -> None:
    """Samples are written in the same transaction as the step's events, kept apart per
    device, filtered by [since, until) and capped to the latest ``limit``, oldest first."""
    event = EventRecord("evt-00000001", "gw-1", "door-holding-1", "door_opened", {}, T0, 1.0)
    samples = [_sample("env-holding-1", T0 + i * 1000, 1.0 + i, temperature=20.0 + i,
                       humidity=50) for i in range(5)]
    samples.append(_sample("env-holding-2", T0, 1.0, temperature=30.5))
    async with SqliteStore(tmp_path) as store:
        await store.write(WriteBatch(events=[event], samples=samples))
        every = await store.samples("env-holding-1")
        window = await store.samples("env-holding-1", since_ms=T0 + 1000, until_ms=T0 + 4000)
        latest = await store.samples("env-holding-1", limit=2)
        other = await store.samples("env-holding-2")
        assert [e.id for e in await store.recent_events()] == ["evt-00000001"]
    assert [s.metrics["temperature"] for s in every] == [20.0, 21.0, 22.0, 23.0, 24.0]
    assert every[0] == samples[0]
    assert [s.ts for s in window] == [T0 + 1000, T0 + 2000, T0 + 3000]
    assert [s.ts for s in latest] == [T0 + 3000, T0 + 4000]
    assert other == [samples[-1]]


async def test_prune_deletes_only_expired_samples_in_chunks(tmp_path: Path) -> None:
    """Pruning removes samples received before the cutoff, at most ``chunk`` per call,
    and keeps the younger ones."""
    old = [_sample("env-holding-1", T0 + i, 100.0 + i, temperature=1.0) for i in range(5)]
    young = [_sample("env-holding-1", T0 + 10 + i, 1000.0 + i, temperature=2.0)
             for i in range(3)]
    async with SqliteStore(tmp_path) as store:
        await store.write(WriteBatch(samples=old + young))
        assert [await store.prune_samples(500.0, chunk=2) for _ in range(4)] == [2, 2, 1, 0]
        left = await store.samples("env-holding-1")
    assert left == young


async def test_coordinator_prunes_after_the_retention(tmp_path: Path) -> None:
    """The coordinator's retention task deletes samples older than
    ``storage.samples_retention_days`` and counts them."""
    profiles = load_profiles()
    site = load_site(SITE, profiles)
    metrics = ServerMetrics()
    now = time.time()
    async with SqliteStore(tmp_path) as store:
        await store.write(WriteBatch(samples=[
            _sample("env-holding-1", T0, now - 3 * 86400, temperature=1.0),
            _sample("env-holding-1", T0 + 1, now - 60, temperature=2.0)]))
        coord = Coordinator(site=site, speed=1.0, twin=Twin(site, profiles),
                            engine=RuleEngine(site), book=AlarmBook(), store=store,
                            link=None,  # type: ignore[arg-type]  # not used by the task
                            hub=Hub(metrics), metrics=metrics,
                            storage=StorageSettings(samples_retention_days=1))
        task = asyncio.create_task(coord._retention_loop())
        try:
            async def pruned() -> bool:
                return metrics.samples_pruned._value.get() == 1
            await wait_until(pruned, what="expired sample pruned")
        finally:
            task.cancel()
        left = await store.samples("env-holding-1")
    assert [s.metrics for s in left] == [{"temperature": 2.0}]


def test_retention_is_validated(tmp_path: Path) -> None:
    """The retention defaults to 7 days; zero or less is refused when the config file is
    loaded, naming the line and field."""
    assert build_server_config().storage.samples_retention_s == 7 * 86400
    config = tmp_path / "server.yaml"
    config.write_text("storage:\n  samples_retention_days: 2\n")
    assert load_server_config(config).storage.samples_retention_s == 2 * 86400
    config.write_text("storage:\n  samples_retention_days: 0\n")
    with pytest.raises(ConfigError) as err:
        load_server_config(config)
    assert "storage.samples_retention_days" in "\n".join(err.value.lines)


@pytest.mark.usefixtures("server_credentials")
async def test_samples_api(tmp_path: Path, mqtt_broker: Broker) -> None:
    """Telemetry published over MQTT (a device birth's values, then DeviceData) comes
    back from GET /api/devices/{id}/samples, oldest first and within since/until; bad
    query parameters are 422, an unknown device 404, no token 401."""
    device = "camera-interrogation-2"
    path = f"/api/devices/{device}/samples"
    async with running_server(tmp_path, mqtt_broker.url) as srv:
        node = FakeNode(mqtt_broker.port, "edge-interview")
        try:
            node.birth()
            node.device_birth(device, "camera", {"online": True, "fps": 25.0})
            start = now_ms()
            node.publish(topics.device_topic(SITE, node.node, device,
                                             topics.DeviceMessage.DATA),
                         DeviceData(ts=start + 5, seq=node.next_seq(), metrics={"fps": 12.5}))

            async def two() -> bool:
                return await srv.metric("custodywatch_samples_stored_total") >= 2
            await wait_until(two, what="two samples stored")
            samples = (await srv.get(path)).json()
            assert [s["metrics"] for s in samples] == [{"online": True, "fps": 25.0},
                                                       {"fps": 12.5}]
            assert samples[1]["hist"] is False and samples[1]["ts"].endswith("Z")
            since = (await srv.get(path, params={"since": (start + 1) / 1000})).json()
            assert [s["metrics"] for s in since] == [{"fps": 12.5}]
            latest = (await srv.get(path, params={"limit": 1})).json()
            assert latest == samples[1:]
            before = (await srv.get(path, params={"until": "2000-01-01T00:00:00Z"})).json()
            assert before == []

            for params in ({"since": "yesterday"}, {"limit": 0}, {"limit": 10_001},
                           {"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}):
                r = await srv.get(path, params=params)
                assert r.status_code == 422, (params, r.text)
            assert (await srv.get("/api/devices/nowhere/samples")).status_code == 404
            assert (await srv.http.get(path, headers={"Authorization": ""})).status_code == 401
        finally:
            node.close()
