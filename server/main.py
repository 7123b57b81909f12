"""``custodywatch server --config FILE``: run the server under uvicorn.

:func:`serve` runs it inside an existing event loop (the demo runs it next to the broker
and the simulators); :func:`run_server` is the command's entry point with its own loop and
signal handling.  SIGINT/SIGTERM stop uvicorn, whose lifespan shutdown publishes the
retained ``ServerState(online=False)`` before the MQTT link closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import sys
from collections.abc import Generator
from pathlib import Path

import uvicorn

from protocol.config import ConfigError
from server.app import create_app
from server.config import ServerConfig, load_server_config
from server.errors import ServerError

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn without its own signal capture: whoever runs us decides about signals
    (uvicorn would re-raise a caught SIGTERM after shutdown and kill the process)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().serve(sockets)
        except SystemExit:  # uvicorn's way of saying the lifespan startup failed
            app = getattr(self.config.app, "state", None)
            cause = getattr(app, "startup_error", None)
            if isinstance(cause, ConfigError | ServerError):
                raise cause from None
            raise ServerError(f"server failed to start: {cause!r}") from cause


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise ServerError(f"cannot listen on {host}:{port}: {err.strerror or err}") from err
    sock.listen(128)
    sock.setblocking(False)
    return sock


async def serve(config: ServerConfig, ready: asyncio.Event | None = None,
                stop: asyncio.Event | None = None) -> None:
    """Run the server until ``stop`` is set or this task is cancelled (both shut down
    cleanly).  ``ready`` is set once the socket listens and the lifespan has started
    (store, MQTT link and coordinator up; the link may still be connecting).
    Raises ConfigError (bad site or profiles) or ServerError (port taken, start failed).
    """
    app = create_app(config, ready)
    sock = _bind(config.http.host, config.http.port)
    app.state.http_port = sock.getsockname()[1]
    # log_config=None: keep the process's logging setup (server/cli.py) for uvicorn too.
    server = _Server(uvicorn.Config(app, log_config=None, access_log=False,
                                    timeout_graceful_shutdown=3, lifespan="on"))
    watcher = None
    if stop is not None:
        async def watch() -> None:
            await stop.wait()
            server.should_exit = True
        watcher = asyncio.create_task(watch(), name="server-stop-watch")
    serving = asyncio.create_task(server.serve(sockets=[sock]), name="uvicorn")
    try:
        await asyncio.shield(serving)
    except asyncio.CancelledError:
        server.should_exit = True
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await serving
        raise
    finally:
        if watcher is not None:
            watcher.cancel()
        sock.close()


def run_server(config_path: str | Path) -> int:
    try:
        config = load_server_config(config_path)
    except ConfigError as err:
        for line in err.lines:
            print(line, file=sys.stderr)
        return 1
    return asyncio.run(_main(config))


async def _main(config: ServerConfig) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await serve(config, stop=stop)
    except ConfigError as err:
        for line in err.lines:
            print(line, file=sys.stderr)
        return 1
    except ServerError as err:
        print(f"custodywatch server: {err}", file=sys.stderr)
        return 1
    return 0
