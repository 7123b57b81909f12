"""``custodywatch edge --config FILE``: one agent with its drivers until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from edge.agent import AgentOptions, EdgeAgent
from edge.config import EdgeSetup, load_edge_config
from edge.drivers.base import Driver
from edge.drivers.simulated import make_simulated_driver
from edge.errors import EdgeError
from protocol.config import ConfigError

log = logging.getLogger(__name__)


def drivers_for(setup: EdgeSetup) -> list[Driver]:
    """The drivers of the configured node (simulated ones until real drivers land)."""
    return [make_simulated_driver(ref, setup.profiles[ref.profile])
            for ref in setup.site.devices_of(setup.config.node)]


async def serve(setup: EdgeSetup) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on Windows
            loop.add_signal_handler(sig, stop.set)
    drivers = drivers_for(setup)
    log.info("edge node %s of site %s: %d devices, broker %s", setup.config.node,
             setup.site.id, len(drivers), setup.config.broker)
    async with EdgeAgent(AgentOptions.from_setup(setup), drivers):
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
