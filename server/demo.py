"""`custodywatch demo`: the whole system on one machine with no external service.

An embedded MQTT broker (unless ``--broker``), the server with SQLite under ``--data-dir``,
the reference centre simulated behind real edge agents (unless ``--no-sim``) with a few
people going through it by the book, and the dashboards — all in one event loop.

The banner (addresses, login) comes as soon as the server answers; "ready" once the
simulated centre is: every node born and every camera showing a picture (at most
:data:`PICTURES_WITHIN_S`; the cameras still without one are named).  Only then do people
start moving, so the 23 MJPEG streams warming up on a busy machine are never a "camera
fault" with somebody in custody in the room.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import secrets
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from protocol.config import ConfigError
from server.auth import ADMIN_PASSWORD_ENV
from server.broker import embedded_broker, first_free_port
from server.config import ServerConfig, build_server_config, command_key
from server.errors import ServerError
from server.main import serve

log = logging.getLogger(__name__)

DEMO_PASSWORD_FILE = "demo-admin-password"
PICTURES_WITHIN_S = 30.0  # real seconds the demo waits for every camera's first picture


def demo_admin_password(data_dir: Path) -> str:
    """The admin password of the demo's data directory.

    ``CUSTODYWATCH_ADMIN_PASSWORD`` wins.  Otherwise a new data directory gets a generated
    password that is kept (mode 0600) beside the database, so the demo can show it on every
    start — a convenience of the demo only: ``custodywatch server`` prints a generated
    password once and never stores it."""
    from_env = os.environ.get(ADMIN_PASSWORD_ENV)
    if from_env:
        return from_env
    path = data_dir / DEMO_PASSWORD_FILE
    if path.exists():
        return path.read_text().strip()
    if (data_dir / "custodywatch.db").exists():
        return ""  # created by a server run: its password was printed then
    data_dir.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(12)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(password + "\n")
    return password


def run_demo(args: argparse.Namespace) -> int:
    from protocol.profiles import load_profiles
    from protocol.site import load_site

    try:  # a bad site or profile is reported before anything starts
        load_site(args.site, load_profiles())
    except ConfigError as err:
        for line in err.lines:
            print(line, file=sys.stderr)
        return 1
    data_dir = Path(args.data_dir).resolve()
    password = demo_admin_password(data_dir)
    if password:
        os.environ[ADMIN_PASSWORD_ENV] = password  # read by the server when it creates admin
    try:
        return asyncio.run(_demo(args, data_dir, password))
    except ConfigError as err:
        for line in err.lines:
            print(line, file=sys.stderr)
        return 1
    except (ServerError, OSError) as err:
        print(f"custodywatch demo: {err}", file=sys.stderr)
        return 1


async def _demo(args: argparse.Namespace, data_dir: Path, password: str) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    async with contextlib.AsyncExitStack() as stack:
        broker_url = args.broker
        if broker_url is None:
            port = args.mqtt_port or first_free_port(1883)
            broker_url = await stack.enter_async_context(embedded_broker(port))
        config = build_server_config(site=args.site, data_dir=data_dir, speed=args.speed,
                                     mqtt={"url": broker_url},
                                     http={"host": args.host, "port": args.http_port})
        ready = asyncio.Event()
        async with asyncio.TaskGroup() as tg:
            server = tg.create_task(serve(config, ready, stop), name="server")
            await _first_of(ready.wait(), server)
            if server.done():
                return 1
            _banner(config, broker_url, password, simulated=not args.no_sim)
            if not args.no_sim:
                tg.create_task(_simulate(config, broker_url, password, stop, _announce_ready),
                               name="simulator")
            await stop.wait()
    print("custodywatch demo: stopped", flush=True)
    return 0


async def _first_of(waiting: Coroutine[Any, Any, Any], task: asyncio.Task[Any]) -> None:
    waiter = asyncio.ensure_future(waiting)
    await asyncio.wait({waiter, task}, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()


def _banner(config: ServerConfig, broker_url: str, password: str, simulated: bool) -> None:
    host = "127.0.0.1" if config.http.host in ("0.0.0.0", "::") else config.http.host
    url = f"http://{host}:{config.http.port}"
    login = password or "(the password printed when this data directory was created)"
    lines = [
        "",
        "CustodyWatch demo is running  (Ctrl-C to stop)",
        f"  duty-desk wall   {url}/",
        f"  guard handheld   {url}/guard",
        f"  supervisor       {url}/reports",
        f"  technician       {url}/devices",
        f"  API docs         {url}/docs",
        f"  health, metrics  {url}/healthz   {url}/metrics",
        f"  MQTT broker      {broker_url}",
        f"  data directory   {config.data_dir}",
        f"  site, speed      {config.site}, x{config.speed:g}",
        f"  login            admin / {login}",
        "  simulation       " + ("reference centre: starting (waiting for every camera's "
                                 "first picture), then people moving" if simulated else "off"),
        "",
    ]
    print("\n".join(lines), flush=True)


def _announce_ready(missing: list[str]) -> None:
    if missing:
        cameras = (f"no picture after {PICTURES_WITHIN_S:g}s from {len(missing)} camera(s): "
                   f"{', '.join(missing)} (see the wall's camera tiles)")
    else:
        cameras = "every camera shows a picture"
    print(f"custodywatch demo: ready — {cameras}; people start moving", flush=True)


async def _simulate(config: ServerConfig, broker_url: str, password: str,
                    stop: asyncio.Event, announce: Callable[[list[str]], None]) -> None:
    """The simulated centre with people walking through it, until ``stop``.  ``announce``
    is called once the centre is ready, with the cameras that showed no picture in time."""
    from protocol.profiles import load_profiles
    from protocol.site import load_site
    from simulators.ambient import ambient
    from simulators.api_client import ApiClient
    from simulators.centre import SimulatedCentre
    from simulators.errors import SimulatorError

    profiles = load_profiles(config.profiles_dir)
    site = load_site(config.site, profiles)
    url = f"http://127.0.0.1:{config.http.port}"
    announced = False
    try:
        async with ApiClient(url) as api, SimulatedCentre(
                site, profiles, broker_url, config.speed, command_key(config),
                config.data_dir / "simulator") as centre:
            await centre.wait_connected()
            pictures = asyncio.create_task(centre.wait_pictures(PICTURES_WITHIN_S),
                                           name="first-pictures")
            await _first_of(stop.wait(), pictures)  # Ctrl-C while warming up stops at once
            if not pictures.done():
                pictures.cancel()
                return
            missing = pictures.result()
            if missing:
                log.warning("cameras without a picture after %gs: %s", PICTURES_WITHIN_S,
                            ", ".join(missing))
            announce(missing)
            announced = True
            await api.login("admin", password)
            walking = asyncio.create_task(ambient(centre, api, config.speed, pause_s=20),
                                          name="ambient")
            await stop.wait()
            walking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await walking
    except SimulatorError as err:
        log.error("simulation stopped: %s", err)
        if not announced:
            print("custodywatch demo: the simulation stopped (see the log); the server "
                  "keeps running", flush=True)
