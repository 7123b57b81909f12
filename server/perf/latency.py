"""``custodywatch bench latency``: from an edge publishing a violating event to the alarm
arriving on a dashboard's WebSocket, under background load.

The probe is the node hosting every panic button (``gw-panic`` of the synthetic site):
it presses one button (DeviceEvent ``panic_pressed`` with ``pressed: true``), waits for
the ``panic_button`` alarm of that button to arrive on ``/api/ws`` in state
``active_unacked``, releases it (``panic_reset``), and after a random pause (mean
``--interval``) presses the next one.  The background load (``--background`` msg/s, the
realistic mix of loadgen.py from the other nodes) runs meanwhile, and the WebSocket
receives every change it causes too, as the duty-desk wall does.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from server.perf.harness import BenchError, Broker, broker_and_server, emit, machine, quiet_logs
from server.perf.loadgen import NodeSession
from server.perf.observe import LiveSocket, MetricsWatch, percentile
from server.perf.phase import DRAIN_IDLE_S, PhaseResult, server_phase
from server.perf.site import PANIC_NODE, BenchSite, make_site

ALARM_TIMEOUT_S = 5.0


@dataclass
class AlarmProbe:
    """Presses panic buttons one after the other and times each alarm's arrival."""

    session: NodeSession
    live: LiveSocket
    interval: float
    samples_ms: list[float] = field(default_factory=list)
    lag_ms: list[float] = field(default_factory=list)
    timeouts: int = 0
    sent: int = 0
    ws_reconnects: int = 0

    @classmethod
    async def start(cls, broker: Broker, site: BenchSite, live: LiveSocket, watch: MetricsWatch,
                    interval: float, bdseq: int = 1) -> AlarmProbe:
        """Connect the panic node, publish its births, wait until the server has them."""
        session = NodeSession("127.0.0.1", broker.port, site.config.id, site.nodes[PANIC_NODE],
                              bdseq=bdseq)
        session.client.loop_start()
        deadline = time.monotonic() + 20
        while not session.connected:
            if time.monotonic() > deadline:
                raise BenchError("probe: no broker connection in 20 s")
            await asyncio.sleep(0.02)
        before = await watch.scrape()
        births = session.births()
        await watch.wait_processed(before.processed + births, idle_s=DRAIN_IDLE_S)
        return cls(session, live, interval)

    def close(self) -> None:
        self.session.client.disconnect()
        self.session.client.loop_stop()

    async def __call__(self, done: asyncio.Event) -> AlarmProbe:
        rng = random.Random(7)
        buttons = self.session.node.devices
        self.live.lag_ms.clear()
        i = 0
        while not done.is_set():
            button = buttons[i % len(buttons)]
            i += 1
            arrived = self.live.expect_alarm("panic_button", button.id)
            t0 = time.time()
            self.session.event(button, "panic_pressed", metrics={"pressed": True})
            try:
                t1 = await asyncio.wait_for(asyncio.shield(arrived), ALARM_TIMEOUT_S)
                self.samples_ms.append((t1 - t0) * 1000)
            except TimeoutError:
                self.live.forget(arrived)
                self.timeouts += 1
            self.session.event(button, "panic_reset", metrics={"pressed": False})
            self.sent += 2
            try:
                await asyncio.wait_for(done.wait(), rng.uniform(0.5, 1.5) * self.interval)
            except TimeoutError:
                pass
        self.lag_ms = list(self.live.lag_ms)
        self.ws_reconnects = self.live.reconnects
        return self


async def measure(server_url: str, password: str, run_phase: Any, broker: Broker,
                  site: BenchSite, interval: float, bdseq: int) -> PhaseResult:
    """Run ``run_phase(probe)`` with a WebSocket and an alarm probe around it."""
    watch = MetricsWatch(server_url)
    try:
        async with LiveSocket(server_url, password) as live:
            probe = await AlarmProbe.start(broker, site, live, watch, interval, bdseq)
            try:
                result: PhaseResult = await run_phase(probe)
                return result
            finally:
                probe.close()
    finally:
        await watch.aclose()


def summary(run: PhaseResult) -> dict[str, Any]:
    probe: AlarmProbe = run.probe
    s = probe.samples_ms
    return {
        "samples": len(s), "p50_ms": round(percentile(s, 50), 2),
        "p99_ms": round(percentile(s, 99), 2), "max_ms": round(max(s, default=0.0), 2),
        "background_msgs_per_s": round((run.processed - probe.sent) / run.seconds, 1),
        "timeouts": probe.timeouts, "lost": run.lost, "bad_messages": run.bad,
        "ingest_lag_p50_ms": round(percentile(probe.lag_ms, 50), 2),
        "ingest_lag_p99_ms": round(percentile(probe.lag_ms, 99), 2),
        "server_rss_mb": round(run.rss_mb, 1), "server_cpu_pct": round(run.cpu_pct, 1),
        "ws_reconnects": probe.ws_reconnects,
    }


async def bench_latency(seconds: float, *, zones: int = 100, background: float = 2000.0,
                        publishers: int = 2, interval: float = 0.1) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="cw-bench-latency-") as tmp:
        site_ = make_site(Path(tmp), zones)
        with broker_and_server(Path(tmp), site_) as (broker, server):
            async def phase(probe: AlarmProbe) -> PhaseResult:
                return await server_phase(server, broker, site_, site_.load_nodes(),
                                          rate=background, seconds=seconds,
                                          publishers=publishers, bdseq=2, probe=probe)

            run = await measure(server.base_url, server.password, phase, broker, site_,
                                interval, bdseq=1)
            kind = broker.kind
    return {**summary(run), "background_offered_msgs_per_s": background, "zones": zones,
            "devices": site_.device_count, "broker": kind, **machine()}


def run_bench_latency(args: argparse.Namespace) -> int:
    quiet_logs()
    r = asyncio.run(bench_latency(args.seconds, zones=args.zones, background=args.background,
                                  publishers=args.publishers, interval=args.interval))
    lines = [
        f"alarm latency: edge panic_pressed → alarm on /api/ws, {r['zones']} zones, "
        f"{r['devices']} devices, {r['broker']}",
        f"  {r['samples']} samples: p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
        f"max {r['max_ms']:.1f} ms ({r['timeouts']} timeouts)",
        f"  background {r['background_msgs_per_s']:.0f} msg/s processed "
        f"(offered {r['background_offered_msgs_per_s']:.0f}), lost {r['lost']}",
        f"  ingest lag (camera publish → WebSocket): p50 {r['ingest_lag_p50_ms']:.1f} ms, "
        f"p99 {r['ingest_lag_p99_ms']:.1f} ms; server RSS {r['server_rss_mb']:.0f} MB, "
        f"CPU {r['server_cpu_pct']:.0f} %",
    ]
    emit(r, args.json, lines)
    return 0
