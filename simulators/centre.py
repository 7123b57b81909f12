"""A whole centre without hardware, in one event loop.

* every edge node is a real :class:`~edge.agent.EdgeAgent` with the simulated drivers of
  its devices;
* every gateway node is the real :class:`~gateway.gateway.Gateway` polling real pymodbus
  servers, one per Modbus device of the node, each on a free localhost port (its own TCP
  endpoint, as an IP door controller would have); the gateway's config is generated here.

``drivers`` maps every device id to what the simulators drive: a simulated driver for an
edge device, a field-device handle (simulators/devices/handles.py) for a Modbus device,
with the same verbs either way, so scenarios and the crowd need not know which is which.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from edge.agent import AgentOptions, EdgeAgent
from edge.drivers.simulated import SimulatedDriver, make_simulated_driver
from gateway.config import DeviceSpec, HealthConfig, TcpBusConfig
from gateway.gateway import SOFTWARE as GATEWAY_SOFTWARE
from gateway.gateway import Gateway
from protocol.profiles import ProfileSet
from protocol.site import NodeConfig, SiteConfig
from simulators.devices.handles import FieldHandle, make_handle
from simulators.devices.models import make_model
from simulators.devices.server import FieldDevice
from simulators.devices.video import NetworkVideo, network_video_enabled

D = TypeVar("D", bound=SimulatedDriver)

SIMULATED_HEALTH = HealthConfig(lost_after=2, backoff_min_s=0.25, backoff_max_s=2.0)
"""A powered-off simulated device is noticed within about a second and its restore within
two: scenarios inject faults at accelerated time."""


class SimulatedCentre:
    def __init__(self, site: SiteConfig, profiles: ProfileSet, broker_url: str,
                 speed: float, command_key: bytes | None, state_dir: str | Path) -> None:
        self.site = site
        self.profiles = profiles
        self.speed = speed
        self.broker_url = broker_url
        self.command_key = command_key
        self.state_dir = Path(state_dir)
        self.drivers: dict[str, SimulatedDriver] = {}
        self.agents: dict[str, EdgeAgent] = {}
        self.gateways: dict[str, Gateway] = {}
        self.field: dict[str, FieldDevice] = {}  # Modbus device id -> its pymodbus server
        self._gateway_nodes: list[NodeConfig] = []
        self.video = NetworkVideo(speed, self.drivers, enabled=network_video_enabled())
        for node in site.nodes:
            refs = site.devices_of(node.id)
            if node.kind == "gateway" and all(profiles[r.profile].modbus for r in refs):
                self._gateway_nodes.append(node)
                for ref in refs:
                    field = FieldDevice(make_model(profiles[ref.profile]), device_id=ref.id)
                    self.field[ref.id] = field
                    self.drivers[ref.id] = make_handle(ref, profiles[ref.profile], field)
                continue
            # Cameras and recorders are network devices read by the real drivers
            # (simulators/devices/video.py); the rest are in-process simulated drivers.
            drivers = [self.video.handle(ref, profiles[ref.profile])
                       or make_simulated_driver(ref, profiles[ref.profile]) for ref in refs]
            self.drivers.update({d.id: d for d in drivers})
            self.agents[node.id] = EdgeAgent(self._options(node),
                                             [self.video.agent_driver(d) for d in drivers])
        self._stack: AsyncExitStack | None = None

    def _options(self, node: NodeConfig, software: str | None = None) -> AgentOptions:
        options = AgentOptions(site=self.site.id, node=node.id, broker=self.broker_url,
                               state_dir=self.state_dir / node.id, kind=node.kind,
                               heartbeat_s=node.heartbeat_s, speed=self.speed,
                               command_key=self.command_key)
        return replace(options, software=software) if software else options

    def _gateway(self, node: NodeConfig) -> Gateway:
        """The gateway of ``node`` over the field devices' (now bound) ports."""
        buses, specs = [], []
        for ref in self.site.devices_of(node.id):
            field = self.field[ref.id]
            buses.append(TcpBusConfig(id=ref.id, host=field.host, port=field.port))
            specs.append(DeviceSpec(ref, self.profiles[ref.profile], bus=ref.id,
                                    unit=field.unit))
        return Gateway(self._options(node, GATEWAY_SOFTWARE), buses, specs, SIMULATED_HEALTH)

    async def __aenter__(self) -> SimulatedCentre:
        async with AsyncExitStack() as stack:
            for field in self.field.values():
                await stack.enter_async_context(field)
            for node in self._gateway_nodes:
                gateway = self._gateway(node)
                self.gateways[node.id] = gateway
                await stack.enter_async_context(gateway)
            await stack.enter_async_context(self.video)
            for agent in self.agents.values():
                await stack.enter_async_context(agent)
            self._stack = stack.pop_all()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._stack is not None:
            await self._stack.aclose()  # nodes stop in reverse order, each with its death
            self._stack = None

    async def wait_connected(self, within_s: float = 15.0) -> None:
        """Until every node has published its births."""
        await asyncio.gather(*(a.wait_connected(within_s) for a in self.agents.values()),
                             *(g.wait_connected(within_s) for g in self.gateways.values()))

    async def wait_pictures(self, within_s: float = 30.0) -> list[str]:
        """Until every simulated camera has reported a picture, at most ``within_s`` real
        seconds: the cameras still without one (an empty list: all show their room)."""
        return await self.video.wait_pictures(within_s)

    def driver(self, device_id: str, kind: type[D] = SimulatedDriver) -> D:  # type: ignore[assignment]
        driver = self.drivers[device_id]
        if not isinstance(driver, kind):
            raise TypeError(f"{device_id} is a {type(driver).__name__}, not a {kind.__name__}")
        return driver

    def device_in(self, profile: str, zone: str) -> SimulatedDriver | None:
        """The zone's device of that profile (ids are ``<profile>-<zone>``), if any."""
        return self.drivers.get(f"{profile}-{zone}")

    def field_device(self, device_id: str) -> FieldDevice:
        """The pymodbus server of a Modbus device (KeyError for an edge device)."""
        return self.field[device_id]

    def is_field_device(self, device_id: str) -> bool:
        return isinstance(self.drivers.get(device_id), FieldHandle)

