"""The ``bench ingest|latency|scale|sweep`` subcommands: their arguments (cheap: argparse
only) and dispatch (the bench modules load on use)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable


def _ingest(p: argparse.ArgumentParser) -> None:
    p.add_argument("--zones", type=int, default=100, help="zones of the synthetic site (100)")
    p.add_argument("--rate", type=float, default=0.0,
                   help="offered msg/s in all (default 0: as fast as the broker acks)")
    p.add_argument("--publishers", type=int, default=2, help="publisher processes (2)")
    p.add_argument("--no-baseline", action="store_true", help="skip the baseline consumer")
    p.add_argument("--mode", choices=("backlog", "concurrent"), default="backlog",
                   help="backlog: consumer paused while the load is published, then timed "
                        "draining it (default); concurrent: publishers and consumer together")
    p.add_argument("--dashboard", action="store_true",
                   help="keep a WebSocket client connected (the duty-desk wall) while the "
                        "server ingests: every change is then pushed")


def _latency(p: argparse.ArgumentParser) -> None:
    p.add_argument("--zones", type=int, default=100, help="zones of the synthetic site (100)")
    p.add_argument("--background", type=float, default=2000.0,
                   help="background load, msg/s (2000)")
    p.add_argument("--publishers", type=int, default=2, help="publisher processes (2)")
    p.add_argument("--interval", type=float, default=0.1,
                   help="mean seconds between two probes (0.1)")


def _scale(p: argparse.ArgumentParser) -> None:
    p.add_argument("--zones", type=int, default=200, help="zones (200)")
    p.add_argument("--devices", type=int, default=2000,
                   help="devices in all, a multiple of --zones (2000)")
    p.add_argument("--rate", type=float, default=2000.0,
                   help="background load, msg/s (2000: one message per device per second)")
    p.add_argument("--keepalive", type=_keepalive, default=10, metavar="SECONDS",
                   help="MQTT keepalive of the node whose death is timed (10, as the edges; "
                        ">= 4: paho pings up to a second late, the broker waits 1.5 ×)")
    p.add_argument("--publishers", type=int, default=2, help="publisher processes (2)")


def _keepalive(text: str) -> int:
    value = int(text)
    if not 4 <= value <= 3600:
        raise argparse.ArgumentTypeError("must be 4..3600 seconds")
    return value


def _sweep(p: argparse.ArgumentParser) -> None:
    p.add_argument("--loads", default="1000,2000,5000,10000,15000",
                   help="offered loads, msg/s, comma-separated (1000,2000,5000,10000,15000)")
    p.add_argument("--zones", type=int, default=100, help="zones of the synthetic site (100)")
    p.add_argument("--publishers", type=int, default=2, help="publisher processes (2)")
    p.add_argument("--interval", type=float, default=0.1,
                   help="mean seconds between two alarm probes (0.1)")
    p.add_argument("--plot", default=None, help="write the figure here (PNG)")


PERF_BENCHES: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], float]] = {
    "ingest": ("whole server: msg/s through the full path vs a bare paho consumer",
               _ingest, 10.0),
    "latency": ("edge event → alarm on a WebSocket, under background load", _latency, 10.0),
    "scale": ("2,000 devices in 200 zones: RSS, CPU, ingest lag, node death → alarm",
              _scale, 10.0),
    "sweep": ("throughput and alarm latency against offered load (--plot PNG)", _sweep, 5.0),
}


def run_perf_bench(args: argparse.Namespace) -> int:
    if args.seconds <= 0:
        print(f"custodywatch bench {args.bench}: --seconds must be > 0", file=sys.stderr)
        return 2
    from server.perf.harness import BenchError

    try:
        return _dispatch(args)
    except BenchError as err:
        print(f"custodywatch bench {args.bench}: {err}", file=sys.stderr)
        return 1


def _dispatch(args: argparse.Namespace) -> int:
    if args.bench == "ingest":
        from server.perf.ingest import run_bench_ingest

        return run_bench_ingest(args)
    if args.bench == "latency":
        from server.perf.latency import run_bench_latency

        return run_bench_latency(args)
    if args.bench == "scale":
        from server.perf.scale import run_bench_scale

        return run_bench_scale(args)
    from server.perf.sweep.run import run_bench_sweep

    return run_bench_sweep(args)
