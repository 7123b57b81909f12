"""One measured load phase: publishers born and ready, go, publish for N seconds, wait
for the consumer (the server, or the baseline consumer) to drain, count.

*processed* is what the consumer finished with — for the server the sum of its
``custodywatch_messages_ingested_total`` and ``custodywatch_bad_messages_total`` counters
(a refused message is processed, and must be 0 here); *lost* is published − processed
once the consumer has stopped making progress; the rate is processed / (first publish →
last message processed).

``backlog=True`` pauses the consumer (SIGSTOP) while the publishers run and resumes it
(SIGCONT) once they are done: the load waits in the broker, and the consumer then drains
it with the machine to itself — its capacity, without the load generators' CPU (on a
production site they run on the edges, not on the server's machine).  The rate is then
processed / (resume → last message processed).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any

from server.perf.baseline import BaselineConsumer
from server.perf.harness import Broker, ResourceSampler, Scrape, ServerProcess, signal_tree
from server.perf.loadgen import LoadStats, Publishers
from server.perf.observe import MetricsWatch
from server.perf.site import BenchSite, NodePlan

DRAIN_IDLE_S = 3.0  # the consumer is done when its count has not risen for this long


@dataclass
class PhaseResult:
    published: int
    processed: int
    first: float  # epoch seconds: first load message published
    last_published: float
    last_processed: float
    start: float  # epoch seconds the rate counts from: ``first``, or the resume (backlog)
    bad: float = 0.0
    events_stored: float = 0.0
    rss_mb: float = 0.0
    cpu_pct: float = 0.0
    processes: int = 1  # the consumer's processes (the server may have a receiver child)
    by_type: dict[str, float] | None = None
    probe: Any = None

    @property
    def lost(self) -> int:
        return self.published - self.processed

    @property
    def seconds(self) -> float:
        return max(self.last_processed - self.start, 1e-6)

    @property
    def rate(self) -> float:
        return self.processed / self.seconds

    @property
    def offered_rate(self) -> float:
        return self.published / max(self.last_published - self.first, 1e-6)


@contextlib.contextmanager
def _paused(pid: int, enabled: bool) -> Iterator[None]:
    """SIGSTOP ``pid`` and its children for the block (no-op unless ``enabled``); always
    SIGCONT after."""
    if not enabled:
        yield
        return
    signal_tree(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        signal_tree(pid, signal.SIGCONT)


def _delta(a: Scrape, b: Scrape) -> dict[str, float]:
    return {k: v - a.messages.get(k, 0.0) for k, v in b.messages.items()
            if v - a.messages.get(k, 0.0) > 0}


async def _stored(watch: MetricsWatch, start: Scrape, end: Scrape,
                  seen_at: float) -> tuple[Scrape, float]:
    """Messages are counted when applied, events when their batch is committed: wait
    (up to 10 s) until every applied event is stored too, so the last batch's SQLite
    write is inside the measured time."""
    applied = end.messages.get("DeviceEvent", 0.0) - start.messages.get("DeviceEvent", 0.0)
    deadline = time.monotonic() + 10
    scrape = end
    while scrape.events_stored - start.events_stored < applied:
        if time.monotonic() > deadline:  # counted differently: keep the applied time
            return end, seen_at
        await asyncio.sleep(0.02)
        scrape = await watch.scrape()
    return (scrape, scrape.at) if scrape is not end else (end, seen_at)


async def _publish(pubs: Publishers, seconds: float) -> LoadStats:
    pubs.go()
    return await asyncio.to_thread(pubs.wait_done, seconds + 120)


async def server_phase(server: ServerProcess, broker: Broker, site: BenchSite,
                       nodes: list[NodePlan], *, rate: float, seconds: float,
                       publishers: int, bdseq: int, backlog: bool = False,
                       probe: Callable[[asyncio.Event], Coroutine[Any, Any, Any]] | None = None
                       ) -> PhaseResult:
    """Load into the running server.  ``probe(done)`` (if any) runs while the load does
    and must return once ``done`` is set (when the publishers are done); its result lands
    in ``PhaseResult.probe``, and its ``sent`` attribute (messages it published) counts as
    published."""
    watch = MetricsWatch(server.base_url)
    pubs = Publishers("127.0.0.1", broker.port, site.config.id, nodes, rate=rate,
                      seconds=seconds, processes=publishers, bdseq=bdseq)
    try:
        before = await watch.scrape()
        births = await asyncio.to_thread(pubs.wait_ready)
        start, _ = await watch.wait_processed(before.processed + births, idle_s=DRAIN_IDLE_S)
        with _paused(server.pid, backlog):
            sampler = ResourceSampler(server.pid)
            if not backlog:
                sampler.start()
            done = asyncio.Event()
            probing: asyncio.Task[Any] | None = None
            if probe is not None:
                probing = asyncio.create_task(probe(done))
            stats = await _publish(pubs, seconds)
            done.set()
            probe_result = await probing if probing is not None else None
            stats.published += int(getattr(probe_result, "sent", 0))
            resumed = time.time()
        if backlog:
            sampler.start()
        try:
            end, seen_at = await watch.wait_processed(start.processed + stats.published,
                                                      idle_s=DRAIN_IDLE_S)
            end, seen_at = await _stored(watch, start, end, seen_at)
        finally:
            sampler.stop()
        processed = int(end.processed - start.processed)
        return PhaseResult(
            published=stats.published, processed=processed, first=stats.first,
            last_published=stats.last, last_processed=seen_at if processed else stats.last,
            start=resumed if backlog else stats.first,
            bad=sum(end.bad.values()), events_stored=end.events_stored - start.events_stored,
            rss_mb=sampler.rss_mb, cpu_pct=sampler.cpu_pct, processes=sampler.processes,
            by_type=_delta(start, end),
            probe=probe_result)
    finally:
        await asyncio.to_thread(pubs.stop)
        await watch.aclose()


def baseline_phase(broker: Broker, site: BenchSite, nodes: list[NodePlan], *, rate: float,
                   seconds: float, publishers: int, bdseq: int,
                   backlog: bool = False) -> PhaseResult:
    """The same load into the baseline consumer (blocking; no server running)."""
    consumer = BaselineConsumer("127.0.0.1", broker.port, site.config.id)
    pubs = Publishers("127.0.0.1", broker.port, site.config.id, nodes, rate=rate,
                      seconds=seconds, processes=publishers, bdseq=bdseq)
    pid = consumer.proc.pid or 0
    try:
        births = pubs.wait_ready()
        start, _ = consumer.wait_processed(births, idle_s=DRAIN_IDLE_S)
        with _paused(pid, backlog):
            sampler = ResourceSampler(pid)
            if not backlog:
                sampler.start()
            pubs.go()
            stats = pubs.wait_done(seconds + 120)
            resumed = time.time()
        if backlog:
            sampler.start()
        try:
            count, last = consumer.wait_processed(start + stats.published, idle_s=DRAIN_IDLE_S)
        finally:
            sampler.stop()
        return PhaseResult(published=stats.published, processed=count - start,
                           first=stats.first, last_published=stats.last, last_processed=last,
                           start=resumed if backlog else stats.first, rss_mb=sampler.rss_mb,
                           cpu_pct=sampler.cpu_pct)
    finally:
        pubs.stop()
        consumer.stop()
