"""The ``custodywatch`` command line (CONTRACT.md): one console script, subcommands.

Each subcommand imports its component lazily so ``check-config`` stays fast and a broken
optional dependency of one component never stops the others.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--log-level", default=os.environ.get("CUSTODYWATCH_LOG_LEVEL", "INFO"),
                   help="DEBUG, INFO, WARNING, ERROR (default INFO)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="custodywatch",
        description="CustodyWatch: monitoring for police case-handling centres (执法办案管理中心).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="the whole system on one machine, no external services")
    demo.add_argument("--http-port", type=int, default=8080)
    demo.add_argument("--mqtt-port", type=int, default=None,
                      help="embedded broker port (default 1883, or the next free one)")
    demo.add_argument("--broker", default=None, help="use this broker (mqtt://host:port) "
                      "instead of the embedded one")
    demo.add_argument("--data-dir", default="./var")
    demo.add_argument("--speed", type=float, default=1.0)
    demo.add_argument("--no-sim", action="store_true", help="do not simulate the centre")
    demo.add_argument("--site", default="reference", help="bundled site name or path")
    demo.add_argument("--host", default="127.0.0.1", help="HTTP bind address")
    _add_common(demo)

    server = sub.add_parser("server", help="the central server alone")
    server.add_argument("--config", required=True, help="server YAML file")
    _add_common(server)

    edge = sub.add_parser("edge", help="one edge agent")
    edge.add_argument("--config", required=True, help="edge agent YAML file")
    _add_common(edge)

    gateway = sub.add_parser("gateway", help="one Modbus→MQTT gateway")
    gateway.add_argument("--config", required=True, help="gateway YAML file")
    _add_common(gateway)

    sim = sub.add_parser("simulate", help="simulated devices, edge agents and people")
    sim.add_argument("--site", default="reference")
    sim.add_argument("--broker", default="mqtt://127.0.0.1:1883")
    sim.add_argument("--server", default=None, help="server URL (http://host:port); needed "
                     "to play a scenario")
    sim.add_argument("--scenario", default=None, help="scenario YAML file")
    sim.add_argument("--speed", type=float, default=None,
                     help="time acceleration (default: the scenario's, else 1)")
    sim.add_argument("--report", default=None, help="write a JSON report here")
    sim.add_argument("--command-key-file", default=None,
                     help="HMAC key shared with the server for signed commands")
    _add_common(sim)

    check = sub.add_parser("check-config", help="validate config files and device profiles")
    check.add_argument("files", nargs="+", metavar="FILE")
    _add_common(check)

    bench = sub.add_parser("bench", help="benchmarks (numbers to read, not pass/fail)")
    bench_sub = bench.add_subparsers(dest="bench", required=True, metavar="BENCH")
    bench_rules = _bench_parser(
        bench_sub, "rules", "rule engine: Twin.apply + evaluate per message, 100 zones, "
                            "300 people")
    bench_rules.add_argument("--events", type=int, default=20000, help="messages (20000)")
    bench_rules.add_argument("--baseline-events", type=int, default=500,
                             help="messages for the full-evaluation baseline (500; 0: skip)")
    bench_rules.add_argument("--batch", type=int, default=100,
                             help="messages per evaluation for the batched figure (100; 0: skip)")
    bench_camera = _bench_parser(
        bench_sub, "camera", "picture diagnostics: ms per frame, edge CPU per camera",
        seconds=(10.0, "CPU measuring time"))
    bench_camera.add_argument("--cameras", type=int, default=4, help="simulated cameras (4)")
    bench_modbus = _bench_parser(
        bench_sub, "modbus", "Modbus gateway: 100 devices × 10 registers at 1 Hz over TCP, "
                             "5 dead", seconds=(20.0, "measuring time of each phase"))
    from gateway.bench import add_arguments as add_modbus_bench_arguments  # argparse only

    add_modbus_bench_arguments(bench_modbus)
    # The whole-server benches of issue #7 (server/perf/, docs/benchmarks.md).
    from server.perf.cli import PERF_BENCHES  # argparse only; the benches load on use

    for name, (help_text, add_arguments, default_seconds) in PERF_BENCHES.items():
        add_arguments(_bench_parser(bench_sub, name, help_text, seconds=(
            default_seconds, "load time of each measured phase")))

    from server.audit import add_audit_parser  # argparse only; the checks load on use

    _add_common(add_audit_parser(sub))
    return parser


def _bench_parser(bench_sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str,
                  help_text: str, seconds: tuple[float, str] | None = None,
                  ) -> argparse.ArgumentParser:
    """A ``bench`` subcommand with the options every bench has: ``--json`` (one JSON object
    on the last line), ``--seconds`` (when it measures for a time) and ``--log-level``."""
    p = bench_sub.add_parser(name, help=help_text)
    p.add_argument("--json", action="store_true", help="one JSON object on the last line")
    if seconds is not None:
        default, what = seconds
        p.add_argument("--seconds", type=float, default=default, help=f"{what} ({default:g})")
    _add_common(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    if args.command == "check-config":
        from server.checkconfig import check_config

        return check_config(args.files)
    if args.command == "server":
        from server.main import run_server

        return run_server(args.config)
    if args.command == "edge":
        from edge.main import run_edge

        return run_edge(args.config)
    if args.command == "gateway":
        from gateway.main import run_gateway

        return run_gateway(args.config)
    if args.command == "simulate":
        from simulators.cli import run_simulate

        return run_simulate(args)
    if args.command == "bench" and args.bench == "rules":
        from server.rules.bench import run_bench_rules

        return run_bench_rules(args.events, as_json=args.json,
                               baseline_events=args.baseline_events, batch=args.batch)
    if args.command == "bench" and args.bench == "modbus":
        from gateway.bench import run_bench

        return run_bench(args)
    if args.command == "bench" and args.bench == "camera":
        from edge.video.bench import run_bench_camera

        return run_bench_camera(args.cameras, args.seconds, as_json=args.json)
    if args.command == "bench" and args.bench in ("ingest", "latency", "scale", "sweep"):
        from server.perf.cli import run_perf_bench

        return run_perf_bench(args)
    if args.command == "audit":
        from server.audit import run_audit

        return run_audit(args)
    if args.command == "demo":
        from server.demo import run_demo

        return run_demo(args)
    raise AssertionError(args.command)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
