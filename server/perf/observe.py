"""Reading the running server from outside: its counters (``/metrics``) and its WebSocket
(``/api/ws`` after ``POST /api/auth/login``), as a dashboard would."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets

from server.perf.harness import BenchError, Scrape, parse_metrics


class MetricsWatch:
    """Polls ``/metrics``."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, timeout=10.0)

    async def scrape(self) -> Scrape:
        response = await self.http.get("/metrics")
        response.raise_for_status()
        return parse_metrics(response.text, time.time())

    async def wait_processed(self, target: float, *, idle_s: float = 3.0, interval: float = 0.05,
                             limit_s: float = 600.0) -> tuple[Scrape, float]:
        """Poll until ``processed`` reaches ``target`` or stops rising for ``idle_s``.
        Returns the last scrape and when the count was first seen at its final value
        (the midpoint between that poll and the one before, epoch seconds)."""
        last = await self.scrape()
        seen_at = last.at
        previous_at = last.at
        deadline = time.monotonic() + limit_s
        while last.processed < target and time.monotonic() < deadline:
            await asyncio.sleep(interval)
            scrape = await self.scrape()
            if scrape.processed > last.processed:
                seen_at = (previous_at + scrape.at) / 2
            elif scrape.at - seen_at > idle_s:
                last = scrape
                break
            previous_at = scrape.at
            last = scrape
        return last, seen_at

    async def aclose(self) -> None:
        await self.http.aclose()


async def login(base_url: str, password: str, username: str = "admin") -> str:
    async with httpx.AsyncClient(base_url=base_url, timeout=10.0) as http:
        response = await http.post("/api/auth/login",
                                   json={"username": username, "password": password})
        if response.status_code != 200:
            raise BenchError(f"login failed: {response.status_code} {response.text[:200]}")
        token: str = response.json()["access_token"]
        return token


@dataclass
class _Waiter:
    rule: str
    subject: str
    state: str
    future: asyncio.Future[float]


@dataclass
class LiveSocket:
    """A dashboard's WebSocket: records when alarms arrive and, from every camera update,
    the ingest lag (arrival − the camera's ``last_frame_ts``, set when it was published)."""

    base_url: str
    password: str
    lag_ms: list[float] = field(default_factory=list)
    messages: int = 0
    reconnects: int = 0
    _waiters: list[_Waiter] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None
    _ready: asyncio.Event = field(default_factory=asyncio.Event)
    _ws: Any = None

    async def __aenter__(self) -> LiveSocket:
        token = await login(self.base_url, self.password)
        url = self.base_url.replace("http://", "ws://") + f"/api/ws?token={token}"
        self._task = asyncio.create_task(self._run(url), name="bench-ws")
        try:
            await asyncio.wait_for(self._ready.wait(), 30)
        except TimeoutError:
            raise BenchError("no WebSocket snapshot in 30 s") from None
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _run(self, url: str) -> None:
        while True:
            try:
                async with websockets.connect(url, max_size=None, open_timeout=30) as ws:
                    await ws.recv()  # the snapshot
                    self._ready.set()
                    async for raw in ws:
                        self._on_message(raw if isinstance(raw, str) else raw.decode())
            except (websockets.ConnectionClosed, OSError):
                # The server drops a client that cannot keep up (CLOSE_TOO_SLOW): count it,
                # reconnect for a fresh snapshot like a dashboard does.
                self.reconnects += 1
                await asyncio.sleep(0.1)

    def _on_message(self, raw: str) -> None:
        now = time.time()
        self.messages += 1
        if raw.startswith('{"type":"alarm"'):
            alarm = json.loads(raw)["alarm"]
            for w in list(self._waiters):
                if (alarm["rule"], alarm["subject"], alarm["state"]) == \
                        (w.rule, w.subject, w.state) and not w.future.done():
                    w.future.set_result(now)
                    self._waiters.remove(w)
        elif raw.startswith('{"type":"device"') and '"profile":"camera' in raw:
            ts = json.loads(raw)["device"]["metrics"].get("last_frame_ts")
            if isinstance(ts, int):
                self.lag_ms.append(now * 1000 - ts)

    def expect_alarm(self, rule: str, subject: str,
                     state: str = "active_unacked") -> asyncio.Future[float]:
        """A future that resolves to the arrival time (epoch s) of the next alarm message
        for (rule, subject) in ``state``.  Register before causing the alarm."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiters.append(_Waiter(rule, subject, state, future))
        return future

    def forget(self, future: asyncio.Future[float]) -> None:
        self._waiters = [w for w in self._waiters if w.future is not future]


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), nearest rank; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[rank]
