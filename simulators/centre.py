"""A whole centre without hardware: one real EdgeAgent per node of the site, each with the
simulated drivers of its devices, in one event loop.

The gateway node (gw-1: doors, panic buttons, env, smoke, lockers) is played by an edge
agent with simulated drivers until the Modbus gateway lands (issue #5); to the server it is
a node like any other either way.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from edge.agent import AgentOptions, EdgeAgent
from edge.drivers.simulated import SimulatedDriver, make_simulated_driver
from protocol.profiles import ProfileSet
from protocol.site import SiteConfig

D = TypeVar("D", bound=SimulatedDriver)


class SimulatedCentre:
    def __init__(self, site: SiteConfig, profiles: ProfileSet, broker_url: str,
                 speed: float, command_key: bytes | None, state_dir: str | Path) -> None:
        self.site = site
        self.profiles = profiles
        self.speed = speed
        self.drivers: dict[str, SimulatedDriver] = {}
        self.agents: dict[str, EdgeAgent] = {}
        for node in site.nodes:
            drivers = [make_simulated_driver(ref, profiles[ref.profile])
                       for ref in site.devices_of(node.id)]
            self.drivers.update({d.id: d for d in drivers})
            options = AgentOptions(site=site.id, node=node.id, broker=broker_url,
                                   state_dir=Path(state_dir) / node.id, kind=node.kind,
                                   heartbeat_s=node.heartbeat_s, speed=speed,
                                   command_key=command_key)
            self.agents[node.id] = EdgeAgent(options, drivers)
        self._stack: AsyncExitStack | None = None

    async def __aenter__(self) -> SimulatedCentre:
        async with AsyncExitStack() as stack:
            for agent in self.agents.values():
                await stack.enter_async_context(agent)
            self._stack = stack.pop_all()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._stack is not None:
            await self._stack.aclose()  # agents stop in reverse order, each with its death
            self._stack = None

    async def wait_connected(self, within_s: float = 15.0) -> None:
        """Until every node has published its births."""
        await asyncio.gather(*(a.wait_connected(within_s) for a in self.agents.values()))

    def driver(self, device_id: str, kind: type[D] = SimulatedDriver) -> D:  # type: ignore[assignment]
        driver = self.drivers[device_id]
        if not isinstance(driver, kind):
            raise TypeError(f"{device_id} is a {type(driver).__name__}, not a {kind.__name__}")
        return driver

    def device_in(self, profile: str, zone: str) -> SimulatedDriver | None:
        """The zone's device of that profile (ids are ``<profile>-<zone>``), if any."""
        return self.drivers.get(f"{profile}-{zone}")
