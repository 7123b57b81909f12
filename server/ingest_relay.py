"""The server's side of the MQTT receiver process (``mqtt.receiver: process``).

:class:`ReceiverProcess` starts ``python -m server.ingest_receiver`` (a fresh interpreter,
never a fork of the server), sends it its settings on stdin, reads its frames from its
stdout with asyncio and hands each batch over as one ``list[Inbound]``: the frames decode
straight into Inbound tuples (msgspec), no per-message pickling or call from another
thread.  On 2 cores paho's packet parsing then runs in parallel with the coordinator
(issue #7; scripts/profile_ingest.py measures both receivers).

A receiver that dies is restarted, with a growing delay while it keeps dying young, and
counted.  What was published while no receiver was subscribed is lost, as with any
clean-session subscriber: the edges replay events until acked, and a node's next message
shows a sequence gap, for which the twin asks it for a rebirth (server/twin_messages.py).
The receiver ends when the server closes its stdin (shutdown) or dies (the kernel closes
it), so it never outlives the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import msgspec

from server.config import MqttSettings
from server.ingest_receiver import BATCH, UP, Inbound

log = logging.getLogger(__name__)

MIN_RESTART_DELAY_S = 0.5
MAX_RESTART_DELAY_S = 30.0
STABLE_AFTER_S = 30.0  # a receiver that lived this long restarts at the shortest delay
STOP_TIMEOUT_S = 3.0
READ_LIMIT = 1 << 22  # the stream's buffer; a frame may be larger (readexactly)
PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)  # holds server/


class ReceiverProcess:
    """Runs the receiver process and restarts it when it dies.

    ``deliver(batch)`` gets each batch on the event loop, in order; ``on_state()`` is
    called whenever :attr:`up` (subscribed at the broker) changes; ``on_restart()`` each
    time a dead receiver is replaced.  No frame is read while ``room`` is clear (the
    server is far behind): the receiver then waits too (back-pressure, ingest_receiver.py).
    """

    def __init__(self, settings: MqttSettings, client_id: str, filters: list[str],
                 deliver: Callable[[list[Inbound]], None], on_state: Callable[[], None],
                 on_restart: Callable[[], None] = lambda: None,
                 room: asyncio.Event | None = None) -> None:
        self._config = {"host": settings.host, "port": settings.port,
                        "keepalive": settings.keepalive_s, "username": settings.username,
                        "password": settings.password, "client_id": client_id,
                        "filters": filters, "parent_pid": os.getpid()}
        self._deliver = deliver
        self._on_state = on_state
        self._on_restart = on_restart
        self._room = room
        self._decoder = msgspec.msgpack.Decoder(tuple[int, list[Inbound]])
        self._proc: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self.up = False
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        """The running receiver's pid (None between two)."""
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

    def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name="mqtt-receiver")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._end(self._proc)
        self._set_up(False)

    # ------------------------------------------------------------------ supervision

    async def _supervise(self) -> None:
        delay = MIN_RESTART_DELAY_S
        while True:
            started = time.monotonic()
            self._proc = None
            try:
                self._proc = await self._spawn()
                await self._read(self._proc)
            except OSError as err:  # could not start it, or its pipe broke
                log.error("MQTT receiver process failed: %s", err)
            self._set_up(False)
            code = await self._end(self._proc)
            if time.monotonic() - started >= STABLE_AFTER_S:
                delay = MIN_RESTART_DELAY_S
            self.restarts += 1
            self._on_restart()
            log.error("MQTT receiver process ended (exit code %s); restarting it in %.1f s "
                      "(messages published meanwhile are lost; edges replay events)",
                      code, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RESTART_DELAY_S)

    async def _spawn(self) -> asyncio.subprocess.Process:
        # This very code, whatever the working directory holds (-P: not on sys.path).
        path = os.pathsep.join([PACKAGE_ROOT, *filter(None, [os.environ.get("PYTHONPATH")])])
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-P", "-m", "server.ingest_receiver",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=READ_LIMIT,
            env={**os.environ, "PYTHONPATH": path})
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(self._config).encode() + b"\n")
        await proc.stdin.drain()
        log.info("MQTT receiver process %d started", proc.pid)
        return proc

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        """Hand over frames until the receiver's stdout ends."""
        stdout = proc.stdout
        assert stdout is not None
        decode = self._decoder.decode
        room = self._room
        while True:
            if room is not None and not room.is_set():
                await room.wait()
            try:
                size = int.from_bytes(await stdout.readexactly(4), "big")
                kind, batch = decode(await stdout.readexactly(size))
            except asyncio.IncompleteReadError:
                return
            except msgspec.DecodeError as err:  # a bug: start afresh rather than guess
                log.error("bad frame from the MQTT receiver process: %s", err)
                return
            if kind == BATCH:
                if batch:
                    self._deliver(batch)
            else:
                self._set_up(kind == UP)

    async def _end(self, proc: asyncio.subprocess.Process | None) -> int | None:
        """Close its stdin (it exits at once), kill it if it does not; its exit code."""
        if proc is None:
            return None
        if proc.stdin is not None and not proc.stdin.is_closing():
            proc.stdin.close()
        try:
            return await asyncio.wait_for(proc.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            log.warning("MQTT receiver process %d did not stop; killing it", proc.pid)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            return await proc.wait()

    def _set_up(self, up: bool) -> None:
        if up != self.up:
            self.up = up
            self._on_state()
