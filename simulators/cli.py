"""``custodywatch simulate``: the simulated centre, optionally playing a scenario.

* ``--scenario FILE --server URL``: play and judge; ``--report FILE`` writes the JSON report;
  exit 0 only if every expectation held (1 otherwise, 2 for a usage or setup problem).
* no ``--scenario``: the centre with a few people walking by the book until Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
import tempfile
from pathlib import Path

from edge.config import read_command_key
from protocol.config import ConfigError
from protocol.profiles import ProfileSet, load_profiles
from protocol.site import SiteConfig, load_site
from simulators.ambient import ambient
from simulators.api_client import ApiClient
from simulators.centre import SimulatedCentre
from simulators.errors import SimulatorError
from simulators.player import Player, PlayOutcome
from simulators.scenario import ScenarioPlan, load_scenario

log = logging.getLogger(__name__)


def run_simulate(args: argparse.Namespace) -> int:
    try:
        key = read_command_key(getattr(args, "command_key_file", None))
        if args.scenario:
            plan = load_scenario(args.scenario)
        else:
            plan = None
            profiles = load_profiles()
            site = load_site(args.site, profiles)
    except ConfigError as err:
        for line in err.lines:
            print(line, file=sys.stderr)
        return 1
    try:
        if plan is not None:
            if not args.server:
                print("custodywatch simulate: --server URL is needed to play a scenario",
                      file=sys.stderr)
                return 2
            speed = args.speed or plan.scenario.speed
            outcome = asyncio.run(play_scenario(plan, args.broker, args.server, speed, key))
            print(outcome.summary())
            if args.report:
                Path(args.report).write_text(json.dumps(outcome.as_json(), indent=2,
                                                        ensure_ascii=False))
            return 0 if outcome.passed else 1
        asyncio.run(run_ambient(site, profiles, args.broker, args.server, args.speed or 1.0,
                                key))
        return 0
    except SimulatorError as err:
        print(f"custodywatch simulate: {err}", file=sys.stderr)
        return 2


async def play_scenario(plan: ScenarioPlan, broker: str, server: str, speed: float,
                        command_key: bytes | None) -> PlayOutcome:
    with tempfile.TemporaryDirectory(prefix="cw-sim-") as state_dir:
        async with ApiClient(server) as api:
            await api.login()
            # Check the server's speed before anything is published to it.
            player_centre = SimulatedCentre(plan.site, plan.profiles, broker, speed,
                                            command_key, state_dir)
            player = Player(plan, player_centre, api, speed)
            await player.check_speed()
            async with player_centre:
                return await player.play()


async def run_ambient(site: SiteConfig, profiles: ProfileSet, broker: str, server: str | None,
                      speed: float, command_key: bytes | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    with tempfile.TemporaryDirectory(prefix="cw-sim-") as state_dir:
        async with contextlib.AsyncExitStack() as stack:
            api = None
            if server:
                api = await stack.enter_async_context(ApiClient(server))
                await api.login()
            centre = await stack.enter_async_context(
                SimulatedCentre(site, profiles, broker, speed, command_key, state_dir))
            await centre.wait_connected()
            print(f"simulating {site.id}: {len(centre.drivers)} devices on "
                  f"{len(centre.agents)} nodes at speed {speed:g}; waiting for every "
                  f"camera's first picture; Ctrl-C to stop", flush=True)
            # As the demo: nobody walks into a room before its camera shows it (a camera
            # still starting is no camera for the rules).
            pictures = asyncio.create_task(centre.wait_pictures(), name="first-pictures")
            stopping = asyncio.create_task(stop.wait(), name="stop")
            await asyncio.wait({pictures, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not pictures.done():
                pictures.cancel()
                return
            stopping.cancel()
            missing = pictures.result()
            print("people start moving" + (f" (no picture yet from {', '.join(missing)})"
                                           if missing else " (every camera shows a picture)"),
                  flush=True)
            walking = asyncio.create_task(ambient(centre, api, speed), name="ambient")
            await stop.wait()
            walking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await walking
