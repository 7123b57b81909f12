"""Fixtures of the gateway tests: simulated field devices (real pymodbus servers) and a
gateway polling them, with every update it emits recorded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from edge.agent import AgentOptions
from edge.drivers.base import Driver, DriverUpdate
from gateway.config import DeviceSpec, HealthConfig, TcpBusConfig
from gateway.gateway import Gateway
from protocol.profiles import DeviceProfile, ProfileSet, load_profiles
from protocol.site import DeviceRef
from simulators.devices.models import make_model
from simulators.devices.server import FieldDevice
from tests.edge.conftest import KEY

FAST_HEALTH = HealthConfig(lost_after=2, backoff_min_s=0.1, backoff_max_s=0.4)


@pytest.fixture(scope="session")
def profiles() -> ProfileSet:
    return load_profiles()


@dataclass
class Recorder:
    """Every update the gateway's devices emit, awaitable by predicate."""

    updates: list[tuple[str, DriverUpdate]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def __call__(self, driver: Driver, update: DriverUpdate) -> None:
        self.updates.append((driver.id, update))
        self.changed.set()

    def mark(self) -> int:
        return len(self.updates)

    async def wait_for(self, match: Callable[[str, DriverUpdate], bool],
                       within_s: float = 5.0, after: int = 0) -> DriverUpdate:
        """The first update (from index ``after``) that matches."""
        async def scan() -> DriverUpdate:
            seen = after
            while True:
                for device, update in self.updates[seen:]:
                    if match(device, update):
                        return update
                seen = len(self.updates)
                self.changed.clear()
                await self.changed.wait()
        return await asyncio.wait_for(scan(), within_s)

    def of(self, device: str) -> list[DriverUpdate]:
        return [u for d, u in self.updates if d == device]


@dataclass
class Rig:
    gateway: Gateway
    fields: dict[str, FieldDevice]
    recorder: Recorder


def spec(device_id: str, profile: DeviceProfile, bus: str, unit: int = 1) -> DeviceSpec:
    zone = device_id.split("-", 1)[1] if "-" in device_id else "lab"
    return DeviceSpec(DeviceRef(device_id, profile.id, zone, "gw-test"), profile, bus, unit)


@asynccontextmanager
async def rig(devices: Sequence[tuple[str, DeviceProfile]],
              poll_ms: int | None = None) -> AsyncIterator[Rig]:
    """One FieldDevice per (id, profile) on its own TCP port and a gateway (no MQTT)
    polling them all, its updates recorded."""
    recorder = Recorder()
    async with AsyncExitStack() as stack:
        fields = {}
        for device_id, profile in devices:
            fields[device_id] = await stack.enter_async_context(
                FieldDevice(make_model(profile), device_id=device_id))
        buses = [TcpBusConfig(id=d, host="127.0.0.1", port=f.port) for d, f in fields.items()]
        specs = [spec(d, p, d) for d, p in devices]
        if poll_ms is not None:
            specs = [DeviceSpec(s.ref, s.profile, s.bus, s.unit, poll_ms=poll_ms) for s in specs]
        gateway = Gateway(None, buses, specs, FAST_HEALTH, sink=recorder, seed=1)
        await stack.enter_async_context(gateway)
        yield Rig(gateway, fields, recorder)


def mqtt_gateway(broker_url: str, state_dir: Path, fields: Sequence[FieldDevice],
                 **options: Any) -> Gateway:
    """Gateway node ``gw-1`` of the reference site on the broker, polling each (started)
    field device on its own TCP bus, with fast health checks and reconnects."""
    agent = AgentOptions(**{"site": "reference", "node": "gw-1", "broker": broker_url,
                            "state_dir": state_dir / "gw-1", "kind": "gateway",
                            "command_key": KEY, "backoff_min_s": 0.05, "backoff_max_s": 0.3,
                            "keepalive_s": 5, **options})
    buses = [TcpBusConfig(id=f.id, host="127.0.0.1", port=f.port) for f in fields]
    specs = [spec(f.id, f.model.profile, f.id) for f in fields]
    return Gateway(agent, buses, specs, FAST_HEALTH)


@pytest.fixture(autouse=True)
async def no_leaked_tasks() -> AsyncIterator[None]:
    """Fail a test that leaves asyncio tasks running (a poller, a server, a timer task):
    every component here is an async context manager and must clean up on exit."""
    yield
    await asyncio.sleep(0.05)  # let cancelled tasks finish their last step
    current = asyncio.current_task()
    leaked = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    assert not leaked, f"tasks left running: {[t.get_name() for t in leaked]}"
