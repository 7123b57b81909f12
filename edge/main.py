"""``custodywatch edge --config FILE``: one agent with its drivers until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from contextlib import AsyncExitStack
from pathlib import Path

from edge.agent import AgentOptions, EdgeAgent
from edge.config import EdgeSetup, load_edge_config
from edge.drivers.base import Driver
from edge.drivers.camera import CameraDriver
from edge.drivers.recorder import RecorderDriver
from edge.drivers.simulated import make_simulated_driver
from edge.errors import EdgeError
from edge.video.stream import redact
from protocol.config import ConfigError

log = logging.getLogger(__name__)


def drivers_for(setup: EdgeSetup) -> list[Driver]:
    """The drivers of the configured node: all simulated with ``simulated: true``; otherwise
    the real camera and recorder drivers of the ``devices:`` entries (built as
    simulators/devices/video.py does), simulated ones for ``simulated_profiles``.
    load_edge_config has checked that every device not kept simulated has its entry."""
    config = setup.config
    drivers: list[Driver] = []
    for ref in setup.site.devices_of(config.node):
        profile = setup.profiles[ref.profile]
        entry = config.devices.get(ref.id)
        if config.simulated or ref.profile in config.simulated_profiles or entry is None:
            drivers.append(make_simulated_driver(ref, profile))
        elif ref.profile == "camera":
            drivers.append(CameraDriver(ref, entry.camera_profile(profile), entry.url,
                                        config.speed))
            log.info("camera %s: real driver on %s", ref.id, redact(entry.url))
        else:
            drivers.append(RecorderDriver(ref, profile, entry.url, config.speed))
            log.info("recorder %s: real driver on %s", ref.id, redact(entry.url))
    if config.simulated and config.devices:
        log.info("simulated: true, so the %d devices: entries are not used",
                 len(config.devices))
    return drivers


async def serve(setup: EdgeSetup, stop: asyncio.Event | None = None) -> None:
    """Run the node until ``stop`` is set (by default: until SIGINT/SIGTERM)."""
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):  # not on Windows
                loop.add_signal_handler(sig, stop.set)
    drivers = drivers_for(setup)
    log.info("edge node %s of site %s: %d devices, broker %s", setup.config.node,
             setup.site.id, len(drivers), setup.config.broker)
    async with AsyncExitStack() as stack:
        # Real drivers read their devices from the start (as NetworkVideo enters them
        # before the agents), and stop after the agent has sent its death.
        for driver in drivers:
            if isinstance(driver, CameraDriver | RecorderDriver):
                await stack.enter_async_context(driver)
        await stack.enter_async_context(EdgeAgent(AgentOptions.from_setup(setup), drivers))
        await stop.wait()
    log.info("edge node %s stopped", setup.config.node)


def run_edge(config_path: str | Path) -> int:
    try:
        setup = load_edge_config(config_path)
    except ConfigError as err:
        for line in err.lines:
            print(line, file=sys.stderr)
        return 1
    try:
        asyncio.run(serve(setup))
    except EdgeError as err:
        print(f"custodywatch edge: {err}", file=sys.stderr)
        return 1
    return 0
