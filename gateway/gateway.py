"""The Modbus gateway: buses, devices and their pollers behind one edge-agent session.

To the server the gateway is an edge node like any other (DESIGN.md): it runs the edge
:class:`~edge.agent.EdgeAgent` with one :class:`~gateway.device.ModbusDevice` driver per
field device, so births, data by exception, the periodic full report, the event outbox and
its acks, DeviceLost and signed commands are the agent's code, not a copy of it.

Start-up polls every device once (bounded by the devices' timeouts) before the session
starts, so the first births carry real values and a device that is dead at start is
announced lost in them rather than born empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import Counter
from collections.abc import Sequence
from types import TracebackType

from edge.agent import AgentOptions, EdgeAgent
from edge.drivers.base import UpdateSink
from gateway.bus import Bus, quiet_pymodbus
from gateway.config import BusConfig, DeviceSpec, GatewaySetup, HealthConfig
from gateway.device import ModbusDevice, PollObserver

log = logging.getLogger(__name__)

SOFTWARE = "custodywatch-gateway/0.1"


class Gateway:
    """``async with Gateway(options, buses, devices) as gw:`` polls and reports until exit.

    With ``options=None`` there is no MQTT session: updates go to ``sink`` (the benchmark
    measures the polling engine alone that way)."""

    def __init__(self, options: AgentOptions | None, buses: Sequence[BusConfig],
                 devices: Sequence[DeviceSpec], health: HealthConfig | None = None,
                 sink: UpdateSink | None = None, seed: int | None = None) -> None:
        rng = random.Random(seed)
        timeouts: dict[str, float] = {}
        for spec in devices:
            assert spec.profile.modbus is not None
            t = (spec.timeout_ms or spec.profile.modbus.timeout_ms) / 1000
            timeouts[spec.bus] = max(timeouts.get(spec.bus, 0.0), t)
        # pymodbus' own wait is a backstop behind the device's timeout (bus.py).
        self.buses = {b.id: Bus(b, timeout_s=2 * timeouts.get(b.id, 1.0)) for b in buses}
        self.devices = {spec.ref.id: ModbusDevice(spec, self.buses[spec.bus], health,
                                                  random.Random(rng.random()))
                        for spec in devices}
        self.agent: EdgeAgent | None = None
        if options is not None:
            self.agent = EdgeAgent(options, list(self.devices.values()))
        elif sink is not None:
            for d in self.devices.values():
                d.attach(sink)
        self._pollers: asyncio.Task[None] | None = None

    @classmethod
    def from_setup(cls, setup: GatewaySetup) -> Gateway:
        cfg = setup.config
        node = next(n for n in setup.site.nodes if n.id == cfg.node)
        options = AgentOptions(site=setup.site.id, node=node.id, broker=cfg.broker,
                               state_dir=setup.state_dir, kind="gateway",
                               heartbeat_s=node.heartbeat_s, speed=cfg.speed,
                               keepalive_s=cfg.keepalive_s, command_key=setup.command_key,
                               software=SOFTWARE)
        return cls(options, cfg.buses, setup.devices(), cfg.health)

    def observe(self, observer: PollObserver) -> None:
        for d in self.devices.values():
            d.observer = observer

    def errors(self) -> Counter[str]:
        """Failed requests by kind (timeout, unreachable, exception, bad_response)."""
        total: Counter[str] = Counter()
        for bus in self.buses.values():
            total.update(bus.errors)
        return total

    async def __aenter__(self) -> Gateway:
        quiet_pymodbus()
        await asyncio.gather(*(d.poll_once() for d in self.devices.values()))
        online = sum(d.online for d in self.devices.values())
        log.info("gateway: %d of %d devices answer on %d buses", online, len(self.devices),
                 len(self.buses))
        try:
            if self.agent is not None:
                await self.agent.__aenter__()
            self._pollers = asyncio.create_task(self._run(), name="gateway:pollers")
        except BaseException:
            self._close_buses()
            raise
        return self

    async def _run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            for d in self.devices.values():
                tg.create_task(d.run(), name=f"poll:{d.id}")

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._pollers is not None:
            for d in self.devices.values():
                d.stop()
            self._pollers.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pollers
            if not self._pollers.cancelled() and self._pollers.exception() is not None:
                log.error("gateway pollers failed: %s", self._pollers.exception())
            self._pollers = None
        try:
            if self.agent is not None:
                await self.agent.stop()
        finally:
            self._close_buses()

    def _close_buses(self) -> None:
        for bus in self.buses.values():
            bus.close()

    async def wait_connected(self, within_s: float = 10.0) -> None:
        if self.agent is not None:
            await self.agent.wait_connected(within_s)
