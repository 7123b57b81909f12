"""``custodywatch gateway --config FILE``: one Modbus gateway until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from gateway.config import GatewaySetup, load_gateway_config
from gateway.errors import GatewayError
from gateway.gateway import Gateway
from protocol.config import ConfigError

log = logging.getLogger(__name__)


async def serve(setup: GatewaySetup) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on Windows
            loop.add_signal_handler(sig, stop.set)
    cfg = setup.config
    log.info("gateway %s of site %s: %d devices on %d buses, broker %s", cfg.node,
             setup.site.id, len(cfg.devices), len(cfg.buses), cfg.broker)
    async with Gateway.from_setup(setup):
        await stop.wait()
    log.info("gateway %s stopped", cfg.node)


def run_gateway(config_path: str | Path) -> int:
    try:
        setup = load_gateway_config(config_path)
    except ConfigError as err:
        for line in err.lines:
            print(line, file=sys.stderr)
        return 1
    try:
        asyncio.run(serve(setup))
    except GatewayError as err:
        print(f"custodywatch gateway: {err}", file=sys.stderr)
        return 1
    return 0
