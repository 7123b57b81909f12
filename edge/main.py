"""``custodywatch edge --config FILE``: one agent with its drivers until SIGINT/SIGTERM.

:func:`stop_on_signals` and :func:`run_agent_command` are shared with ``custodywatch
gateway`` (gateway/main.py): load the config (errors with file and line, exit 1), run until
a signal, turn the agent's own errors into a one-line message and exit 1."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, TypeVar

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
S = TypeVar("S")


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


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM (call inside the running loop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on Windows
            loop.add_signal_handler(sig, stop.set)
    return stop


async def serve(setup: EdgeSetup, stop: asyncio.Event | None = None) -> None:
    """Run the node until ``stop`` is set (by default: until SIGINT/SIGTERM)."""
    if stop is None:
        stop = stop_on_signals()
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


def run_agent_command(name: str, config_path: str | Path, load: Callable[[Path], S],
                      serve: Callable[[S], Coroutine[Any, Any, None]],
                      errors: type[Exception] | tuple[type[Exception], ...]) -> int:
    """``custodywatch NAME --config FILE``: 0 after a clean stop, 1 on a config error
    (every line printed) or one of ``errors`` (printed as ``custodywatch NAME: …``)."""
    try:
        setup = load(Path(config_path))
    except ConfigError as err:
        for line in err.lines:
            print(line, file=sys.stderr)
        return 1
    try:
        asyncio.run(serve(setup))
    except errors as err:
        print(f"custodywatch {name}: {err}", file=sys.stderr)
        return 1
    return 0


def run_edge(config_path: str | Path) -> int:
    return run_agent_command("edge", config_path, load_edge_config, serve, EdgeError)
