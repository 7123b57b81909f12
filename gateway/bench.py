"""``custodywatch bench modbus``: the gateway's polling engine under a realistic load.

100 devices × 10 holding registers polled at 1 Hz over Modbus TCP, each device its own
pymodbus server on its own port, all of them in a child process (simulators/devices/
fleet.py) so that only the gateway's CPU is measured.  Phase 1 (all healthy): gateway CPU
as % of one core, and poll jitter (poll start − its slot on the fixed-rate grid) p99.
Phase 2: 5 devices die (3 hang without answering, 2 refuse connections); after they are
declared lost, the healthy devices' poll period p99.  Goals (issue #5): CPU ≤ 10 %,
jitter p99 ≤ 50 ms, healthy period p99 ≤ 1,050 ms.

Without ``--broker`` the updates go to a counting sink (the engine alone); with it the
full edge-agent session publishes them to that broker.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.agent import AgentOptions
from edge.drivers.base import Driver, DriverUpdate
from gateway.config import DeviceSpec, HealthConfig, TcpBusConfig
from gateway.gateway import Gateway
from protocol.site import DeviceRef

log = logging.getLogger(__name__)

DEAD_HANGING = 3
DEAD_REFUSING = 2


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--devices", type=int, default=100)
    p.add_argument("--registers", type=int, default=10)
    p.add_argument("--period-ms", type=int, default=1000)
    p.add_argument("--broker", default=None, help="also publish through an MQTT session")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


async def loop_lag(window: Window, interval_s: float = 0.01) -> None:
    """How late the event loop wakes a 10 ms sleeper: the host's share of the jitter
    (a busy machine delays every timer, a blocked loop too)."""
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + interval_s
        await asyncio.sleep(interval_s)
        if window.recording:
            window.lag.append(loop.time() - due)


@dataclass
class Window:
    """Poll starts observed between :meth:`open` and :meth:`close`."""

    jitter: list[float] = field(default_factory=list)
    lag: list[float] = field(default_factory=list)
    starts: dict[str, list[float]] = field(default_factory=dict)
    recording: bool = False
    wall: float = 0.0
    cpu: float = 0.0

    def observe(self, device: str, due: float, started: float) -> None:
        if self.recording:
            self.jitter.append(started - due)
            self.starts.setdefault(device, []).append(started)

    def open(self) -> None:
        self.jitter.clear()
        self.lag.clear()
        self.starts.clear()
        self.recording = True
        self.wall, self.cpu = time.monotonic(), time.process_time()

    def close(self) -> tuple[float, float]:
        """(CPU % of one core, wall seconds) since open."""
        self.recording = False
        wall = time.monotonic() - self.wall
        return 100 * (time.process_time() - self.cpu) / wall, wall

    def periods(self, exclude: set[str]) -> list[float]:
        out = []
        for device, starts in self.starts.items():
            if device not in exclude:
                out += [b - a for a, b in itertools.pairwise(starts)]
        return out


class Fleet:
    """The child process serving the simulated devices."""

    def __init__(self, devices: int, registers: int) -> None:
        self.args = [sys.executable, "-m", "simulators.devices.fleet", "--devices",
                     str(devices), "--registers", str(registers)]
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> list[int]:
        self.process = await asyncio.create_subprocess_exec(
            *self.args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), 60)
        if not line:
            raise RuntimeError("the device fleet did not start")
        return list(json.loads(line)["ports"])

    async def tell(self, verb: str, devices: list[int]) -> None:
        assert self.process is not None and self.process.stdin and self.process.stdout
        self.process.stdin.write(f"{verb} {' '.join(map(str, devices))}\n".encode())
        await self.process.stdin.drain()
        await asyncio.wait_for(self.process.stdout.readline(), 30)

    async def stop(self) -> None:
        if self.process is None:
            return
        if self.process.stdin is not None:
            self.process.stdin.write(b"quit\n")
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    from simulators.devices.fleet import bench_profile

    seconds = float(args.seconds)
    profile = bench_profile(args.registers, args.period_ms)
    fleet = Fleet(args.devices, args.registers)
    ports = await fleet.start()
    updates: Counter[str] = Counter()

    def sink(driver: Driver, update: DriverUpdate) -> None:
        updates[type(update).__name__] += 1

    buses = [TcpBusConfig(id=f"bench-{i}", host="127.0.0.1", port=p) for i, p in
             enumerate(ports)]
    specs = [DeviceSpec(DeviceRef(f"bench-{i}", "bench", "lab", "gw-bench"), profile,
                        f"bench-{i}", 1) for i in range(len(ports))]
    health = HealthConfig(lost_after=2, backoff_min_s=0.5, backoff_max_s=10)
    window = Window()
    with tempfile.TemporaryDirectory(prefix="cw-bench-") as state:
        options = None
        if args.broker:
            options = AgentOptions(site="bench", node="gw-bench", broker=args.broker,
                                   state_dir=Path(state), kind="gateway")
        gateway = Gateway(options, buses, specs, health, sink=sink, seed=1)
        gateway.observe(window.observe)
        try:
            async with gateway:
                lag_probe = asyncio.create_task(loop_lag(window), name="bench:loop-lag")
                await asyncio.sleep(2.5)  # every jittered first poll has happened
                window.open()
                await asyncio.sleep(seconds)
                cpu, wall = window.close()
                jitter = [j * 1000 for j in window.jitter]
                lag = [x * 1000 for x in window.lag]
                polls = len(window.jitter)
                dead = list(range(DEAD_HANGING + DEAD_REFUSING))
                await fleet.tell("hang", dead[:DEAD_HANGING])
                await fleet.tell("kill", dead[DEAD_HANGING:])
                # Declared lost after lost_after failed polls: 2 periods plus timeouts.
                await asyncio.sleep(2 * args.period_ms / 1000 + 1.5)
                undeclared = [i for i in dead if not gateway.devices[f"bench-{i}"].breaker.lost]
                if undeclared:
                    log.warning("devices %s not declared lost yet", undeclared)
                window.open()
                await asyncio.sleep(seconds)
                cpu_dead, _ = window.close()
                dead_ids = {f"bench-{i}" for i in dead}
                periods = [p * 1000 for p in window.periods(dead_ids)]
                jitter_dead = [j * 1000 for j in window.jitter]
                lag_probe.cancel()
        finally:
            await fleet.stop()
    result = {
        "cpu_pct": round(cpu, 2),
        "jitter_p99_ms": round(percentile(jitter, 99), 2),
        "healthy_period_p99_ms_with_dead": round(percentile(periods, 99), 2),
    }
    details = {
        "devices": args.devices, "registers": args.registers, "period_ms": args.period_ms,
        "seconds": round(wall, 1), "polls": polls, "jitter_p50_ms": round(percentile(
            jitter, 50), 2), "jitter_max_ms": round(max(jitter, default=float("nan")), 2),
        "loop_lag_p99_ms": round(percentile(lag, 99), 2),
        "cpu_pct_with_dead": round(cpu_dead, 2),
        "jitter_p99_ms_with_dead": round(percentile(jitter_dead, 99), 2),
        "healthy_period_p50_ms_with_dead": round(percentile(periods, 50), 2),
        "healthy_period_max_ms_with_dead": round(max(periods, default=float("nan")), 2),
        "errors": dict(gateway.errors()), "updates": dict(updates),
        "mqtt": bool(args.broker),
        # Data merged in the agent's intake because the publisher fell 2,000 behind.
        "coalesced": gateway.agent.intake.coalesced if gateway.agent is not None else 0,
    }
    return {"result": result, "details": details}


def run_bench(args: argparse.Namespace) -> int:
    logging.getLogger("edge").setLevel(logging.WARNING)  # 5 devices lost is the point
    outcome = asyncio.run(measure(args))
    result, details = outcome["result"], outcome["details"]
    print(f"modbus gateway: {details['devices']} devices × {details['registers']} registers "
          f"every {details['period_ms']} ms over TCP, {details['seconds']} s per phase"
          f"{' with MQTT' if details['mqtt'] else ''}")
    print(f"  healthy:    CPU {result['cpu_pct']:.1f} % of one core (goal ≤ 10), poll jitter "
          f"p50 {details['jitter_p50_ms']:.1f} ms, p99 {result['jitter_p99_ms']:.1f} ms "
          f"(goal ≤ 50), max {details['jitter_max_ms']:.1f} ms, {details['polls']} polls; "
          f"event-loop lag p99 {details['loop_lag_p99_ms']:.1f} ms")
    print(f"  5 dead:     healthy devices' period p50 "
          f"{details['healthy_period_p50_ms_with_dead']:.1f} ms, p99 "
          f"{result['healthy_period_p99_ms_with_dead']:.1f} ms (goal ≤ 1050), max "
          f"{details['healthy_period_max_ms_with_dead']:.1f} ms; jitter p99 "
          f"{details['jitter_p99_ms_with_dead']:.1f} ms; CPU {details['cpu_pct_with_dead']:.1f} %")
    print(f"  errors {details['errors']}, updates {details['updates']}, data coalesced "
          f"{details['coalesced']}")
    if args.json:  # NaN (a phase too short to have a period) is null for JSON readers
        print(json.dumps({k: None if v != v else v for k, v in result.items()}))
    return 0
