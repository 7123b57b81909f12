"""The sweep: one broker and one server; for each offered load, the realistic mix from
the site's nodes at that rate for ``--seconds`` with the alarm probe of latency.py running
meanwhile; then the server drains.  Per step: what was offered, what the server processed
per second (first publish → last processed), lost, alarm latency and ingest lag
percentiles.  Past the server's capacity the backlog grows while the load runs, so the
throughput levels off and the latencies climb to seconds (timeouts after 5 s)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

from server.perf.harness import BenchError, broker_and_server, emit, machine, quiet_logs
from server.perf.latency import AlarmProbe, measure
from server.perf.observe import percentile
from server.perf.phase import PhaseResult, server_phase
from server.perf.site import make_site


def parse_loads(text: str) -> list[float]:
    try:
        loads = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise BenchError(f"--loads: not a list of numbers: {text!r}") from None
    if not loads or min(loads) <= 0:
        raise BenchError("--loads: give one or more rates > 0")
    return loads


async def bench_sweep(seconds: float, loads: list[float], *, zones: int = 100,
                      publishers: int = 2, interval: float = 0.1) -> dict[str, Any]:
    steps: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="cw-bench-sweep-") as tmp:
        site = make_site(Path(tmp), zones)
        with broker_and_server(Path(tmp), site) as (broker, server):
            for i, load in enumerate(loads):
                async def phase(probe: AlarmProbe, load: float = load,
                                bdseq: int = 2 * i + 2) -> PhaseResult:
                    return await server_phase(server, broker, site, site.load_nodes(),
                                              rate=load, seconds=seconds,
                                              publishers=publishers, bdseq=bdseq, probe=probe)

                run = await measure(server.base_url, server.password, phase, broker, site,
                                    interval, bdseq=2 * i + 1)
                probe: AlarmProbe = run.probe
                s, lag = probe.samples_ms, probe.lag_ms
                steps.append({
                    "offered_msgs_per_s": load,
                    "published_msgs_per_s": round(run.offered_rate, 1),
                    "msgs_per_s": round(run.rate, 1), "lost": run.lost, "bad_messages": run.bad,
                    "samples": len(s), "timeouts": probe.timeouts,
                    "p50_ms": round(percentile(s, 50), 2), "p99_ms": round(percentile(s, 99), 2),
                    "max_ms": round(max(s, default=0.0), 2),
                    "ingest_lag_p50_ms": round(percentile(lag, 50), 2),
                    "ingest_lag_p99_ms": round(percentile(lag, 99), 2),
                    "server_cpu_pct": round(run.cpu_pct, 1),
                    "server_rss_mb": round(run.rss_mb, 1),
                })
            kind = broker.kind
    return {"steps": steps, "seconds": seconds, "zones": zones,
            "devices": site.device_count, "broker": kind,
            "max_msgs_per_s": max(st["msgs_per_s"] for st in steps), **machine()}


def run_bench_sweep(args: argparse.Namespace) -> int:
    quiet_logs()
    try:
        loads = parse_loads(args.loads)
    except BenchError as err:
        print(f"custodywatch bench sweep: {err}", file=sys.stderr)
        return 2
    r = asyncio.run(bench_sweep(args.seconds, loads, zones=args.zones,
                                publishers=args.publishers, interval=args.interval))
    if args.plot:
        from server.perf.sweep.plot import plot_sweep

        plot_sweep(r, Path(args.plot))
        r["plot"] = args.plot
    lines = [f"sweep: {r['zones']} zones, {r['devices']} devices, {r['seconds']:g} s per step, "
             f"{r['broker']}",
             f"  {'offered':>8s} {'published':>9s} {'processed':>9s} {'lost':>5s} "
             f"{'alarm p50':>9s} {'p99':>8s} {'lag p50':>8s} {'p99':>8s} {'CPU %':>6s}"]
    for st in r["steps"]:
        lines.append(f"  {st['offered_msgs_per_s']:8.0f} {st['published_msgs_per_s']:9.0f} "
                     f"{st['msgs_per_s']:9.0f} {st['lost']:5d} {st['p50_ms']:9.1f} "
                     f"{st['p99_ms']:8.1f} {st['ingest_lag_p50_ms']:8.1f} "
                     f"{st['ingest_lag_p99_ms']:8.1f} {st['server_cpu_pct']:6.0f}")
    if args.plot:
        lines.append(f"  figure: {args.plot}")
    emit(r, args.json, lines)
    return 0
