"""``custodywatch bench ingest``: how many uplink messages per second the whole server path
takes (paho link → decode and validation → twin → rules → alarms → SQLite → WebSocket
hub), against a bare paho consumer fed the same load in the same run.

The publishers offer load as fast as the broker acknowledges it (QoS 1, as the edges
publish; ``--rate`` to pace it instead).  ``--mode backlog`` (the default) pauses the
consumer while they publish and times how fast it then drains the broker's backlog with
the machine to itself: its sustained maximum, free of the load generators' CPU (2 cores
here; on a site the edges publish from their own machines).  ``--mode concurrent`` runs
publishers and consumer together and counts from the first publish.  ``lost`` counts
messages published but never processed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
from pathlib import Path
from typing import Any

from server.perf.harness import Broker, ServerProcess, emit, machine, quiet_logs
from server.perf.observe import LiveSocket
from server.perf.phase import PhaseResult, baseline_phase, server_phase
from server.perf.site import make_site


async def bench_ingest(seconds: float, *, zones: int = 100, rate: float = 0.0,
                       publishers: int = 2, baseline: bool = True,
                       mode: str = "backlog", dashboard: bool = False) -> dict[str, Any]:
    backlog = mode == "backlog"
    with tempfile.TemporaryDirectory(prefix="cw-bench-ingest-") as tmp:
        workdir = Path(tmp)
        site = make_site(workdir, zones)
        nodes = list(site.nodes.values())
        broker = Broker(workdir).start()
        try:
            base: PhaseResult | None = None
            if baseline:
                base = await asyncio.to_thread(baseline_phase, broker, site, nodes, rate=rate,
                                               seconds=seconds, publishers=publishers, bdseq=1,
                                               backlog=backlog)
            # A paused server sends no MQTT ping: keep the broker from dropping it meanwhile.
            server = ServerProcess(workdir, site, broker.url,
                                   mqtt_keepalive_s=600 if backlog else None)
            try:
                server.start()
                async with contextlib.AsyncExitStack() as stack:
                    if dashboard:  # the duty-desk wall: every change pushed to it
                        await stack.enter_async_context(LiveSocket(server.base_url,
                                                                   server.password))
                    run = await server_phase(server, broker, site, nodes, rate=rate,
                                             seconds=seconds, publishers=publishers, bdseq=2,
                                             backlog=backlog)
            finally:
                server.stop()
        finally:
            broker.stop()
    result: dict[str, Any] = {
        "msgs": run.processed, "seconds": round(run.seconds, 3),
        "msgs_per_s": round(run.rate, 1),
        "baseline_msgs_per_s": round(base.rate, 1) if base else None,
        "ratio": round(run.rate / base.rate, 3) if base and base.rate else None,
        "lost": run.lost, "server_rss_mb": round(run.rss_mb, 1),
        "server_cpu_pct": round(run.cpu_pct, 1), "server_processes": run.processes,
        "published": run.published, "offered_msgs_per_s": round(run.offered_rate, 1),
        "bad_messages": run.bad, "events_stored": run.events_stored,
        "by_type": run.by_type, "baseline_lost": base.lost if base else None,
        "zones": zones, "devices": site.device_count, "nodes": len(nodes),
        "publishers": publishers, "qos": 1, "broker": broker.kind, "mode": mode, **machine(),
        "dashboard": dashboard,
    }
    return result


def run_bench_ingest(args: argparse.Namespace) -> int:
    quiet_logs()
    r = asyncio.run(bench_ingest(args.seconds, zones=args.zones, rate=args.rate,
                                 publishers=args.publishers, baseline=not args.no_baseline,
                                 mode=args.mode, dashboard=args.dashboard))
    base = r["baseline_msgs_per_s"]
    lines = [
        f"ingest: {r['zones']} zones, {r['devices']} devices, {r['nodes']} nodes, "
        f"{r['publishers']} publisher processes, QoS 1, {r['broker']}, {r['mode']} mode"
        f"{', one WebSocket client' if r['dashboard'] else ''}",
        f"  {'server (full path)':28s} {r['msgs_per_s']:10.0f} msg/s  ({r['msgs']} msgs in "
        f"{r['seconds']:.2f} s, lost {r['lost']}, bad {r['bad_messages']:.0f})",
    ]
    if base is not None:
        lines.append(f"  {'baseline (paho + decode)':28s} {base:10.0f} msg/s  "
                     f"(server = {r['ratio']:.2f} × baseline)")
    lines.append(f"  offered {r['offered_msgs_per_s']:.0f} msg/s; server RSS "
                 f"{r['server_rss_mb']:.0f} MB, CPU {r['server_cpu_pct']:.0f} % of one core "
                 f"({r['server_processes']} process(es)); "
                 f"{r['events_stored']:.0f} events stored")
    emit(r, args.json, lines)
    return 0
