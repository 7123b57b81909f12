"""``custodywatch gateway --config FILE``: one Modbus gateway until SIGINT/SIGTERM
(loading, signals and exit codes as ``custodywatch edge``: edge/main.py)."""

from __future__ import annotations

import logging
from pathlib import Path

from edge.errors import EdgeError
from edge.main import run_agent_command, stop_on_signals
from gateway.config import GatewaySetup, load_gateway_config
from gateway.errors import GatewayError
from gateway.gateway import Gateway

log = logging.getLogger(__name__)


async def serve(setup: GatewaySetup) -> None:
    stop = stop_on_signals()
    cfg = setup.config
    log.info("gateway %s of site %s: %d devices on %d buses, broker %s", cfg.node,
             setup.site.id, len(cfg.devices), len(cfg.buses), cfg.broker)
    async with Gateway.from_setup(setup):
        await stop.wait()
    log.info("gateway %s stopped", cfg.node)


def run_gateway(config_path: str | Path) -> int:
    return run_agent_command("gateway", config_path, load_gateway_config, serve,
                             (GatewayError, EdgeError))
