"""``custodywatch bench scale``: a large centre on this machine — 2,000 devices in 200
zones, 31 nodes, ``--rate`` msg/s of the realistic mix (default one message per device
per second) — and what it costs: server RSS and CPU, ingest lag (camera heartbeat
published → its update on a dashboard's WebSocket), alarm latency, and the time from a
node's death to its ``node_offline`` alarm on the WebSocket.

The dying node (``probe-death``) connects with the edges' MQTT keepalive (``--keepalive``,
10 s) and its death as its Will, and is then frozen with SIGSTOP: no more packets, no
closed socket — a hung or unplugged box.  The broker notices after 1.5 × keepalive
(MQTT 3.1.1 §3.1.2.10), publishes the Will, the server marks the node offline and raises
the alarm.  That death runs while the load does.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from protocol import topics
from server.perf.harness import (
    BenchError,
    Broker,
    ResourceSampler,
    broker_and_server,
    emit,
    machine,
    quiet_logs,
)
from server.perf.latency import AlarmProbe, measure
from server.perf.loadgen import NodeSession
from server.perf.observe import MetricsWatch, percentile
from server.perf.phase import PhaseResult, server_phase
from server.perf.site import DEATH_NODE, NodePlan, make_site


def dying_node_main(host: str, port: int, site: str, node: NodePlan, keepalive: int,
                    conn: Connection) -> None:
    """Body of the node that will be frozen: connect, be born, then idle."""
    session = NodeSession(host, port, site, node, bdseq=1, keepalive=keepalive)
    session.client.loop_start()
    while not session.connected:
        time.sleep(0.01)
    session.births()
    while session.unacked:
        time.sleep(0.01)
    conn.send("ready")
    while True:
        time.sleep(1)


@dataclass
class ScaleProbe:
    """The alarm probe, the server's CPU over the load, and the node death."""

    alarms: AlarmProbe
    server_pid: int
    keepalive: int
    dying: Any  # the frozen node's process
    cpu_pct: float = 0.0
    death_s: float | None = None
    will_s: float | None = None  # SIGSTOP → the broker publishing the Will
    will_seen: bool = False

    @property
    def sent(self) -> int:
        """Messages the probes made the server process: presses, releases, the Will."""
        return self.alarms.sent + (1 if self.will_seen else 0)

    async def __call__(self, done: asyncio.Event) -> ScaleProbe:
        sampler = ResourceSampler(self.server_pid)  # the server and its receiver process
        sampler.start()
        death = asyncio.create_task(self._death())
        await self.alarms(done)
        sampler.stop()
        self.cpu_pct = sampler.cpu_pct
        await death
        return self

    async def _death(self) -> None:
        session = self.alarms.session
        will = _WillWatch(session.client.host, session.client.port, session.site)
        arrived = self.alarms.live.expect_alarm("node_offline", DEATH_NODE)
        try:
            await asyncio.sleep(0.5)  # the watch subscribed; nothing died meanwhile?
            if will.at is not None:
                # Its PINGREQ came too late for the broker (a starved CPU): not a death.
                print("bench scale: the probe node was dropped by the broker before it was "
                      "frozen; no node-death figure", file=sys.stderr)
                return
            t0 = time.time()
            os.kill(self.dying.pid, signal.SIGSTOP)
            t1 = await asyncio.wait_for(asyncio.shield(arrived), 3 * self.keepalive + 15)
            self.death_s = t1 - t0
            if will.at is not None:
                self.will_s = will.at - t0
        except TimeoutError:
            pass
        finally:
            self.alarms.live.forget(arrived)
            self.dying.kill()
            will.close()
            self.will_seen = will.at is not None


class _WillWatch:
    """Notes when the broker publishes the dying node's Will (to split the detection time
    into the broker's part and the server's)."""

    def __init__(self, host: str, port: int, site: str) -> None:
        self.at: float | None = None
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="cw-bench-will-watch",
                                  protocol=mqtt.MQTTv311)
        self.client.on_message = self._on_message
        self.client.connect(host, port)
        self.client.subscribe(topics.node_topic(site, DEATH_NODE, topics.NodeMessage.DEATH), 1)
        self.client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: Any) -> None:
        if self.at is None:
            self.at = time.time()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _start_dying_node(broker: Broker, site_id: str, node: NodePlan, keepalive: int) -> Any:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=dying_node_main, daemon=True, name="cw-bench-dying-node",
                       args=("127.0.0.1", broker.port, site_id, node, keepalive, child))
    proc.start()
    if not parent.poll(30):
        proc.kill()
        raise BenchError("the dying node did not come up in 30 s")
    parent.recv()
    return proc


async def bench_scale(seconds: float, *, zones: int = 200, devices: int = 2000,
                      rate: float = 2000.0, keepalive: int = 10,
                      publishers: int = 2) -> dict[str, Any]:
    if devices % zones:
        raise BenchError("--devices must be a multiple of --zones")
    with tempfile.TemporaryDirectory(prefix="cw-bench-scale-") as tmp:
        site = make_site(Path(tmp), zones, devices // zones, death_probe=True)
        with broker_and_server(Path(tmp), site) as (broker, server):
            watch = MetricsWatch(server.base_url)
            before = await watch.scrape()
            dying = _start_dying_node(broker, site.config.id, site.nodes[DEATH_NODE], keepalive)
            await watch.wait_processed(before.processed + 1)  # its birth
            await watch.aclose()
            try:
                async def phase(alarms: AlarmProbe) -> PhaseResult:
                    probe = ScaleProbe(alarms, server.pid, keepalive, dying)
                    return await server_phase(server, broker, site, site.load_nodes(),
                                              rate=rate, seconds=seconds,
                                              publishers=publishers, bdseq=2, probe=probe)

                run = await measure(server.base_url, server.password, phase, broker, site,
                                    interval=0.25, bdseq=1)
            finally:
                dying.kill()
            kind = broker.kind
    probe: ScaleProbe = run.probe
    lag, alarms = probe.alarms.lag_ms, probe.alarms.samples_ms
    return {
        "devices": site.device_count, "zones": zones, "nodes": len(site.nodes),
        "server_rss_mb": round(run.rss_mb, 1), "server_cpu_pct": round(probe.cpu_pct, 1),
        "ingest_lag_p50_ms": round(percentile(lag, 50), 2),
        "ingest_lag_p99_ms": round(percentile(lag, 99), 2),
        "node_death_detect_s": round(probe.death_s, 2) if probe.death_s is not None else None,
        "keepalive_s": keepalive,
        "will_published_s": round(probe.will_s, 2) if probe.will_s is not None else None,
        "alarm_p50_ms": round(percentile(alarms, 50), 2),
        "alarm_p99_ms": round(percentile(alarms, 99), 2),
        # The load published and processed while it ran (the drain waits for the death).
        "msgs_per_s": round((run.published - probe.sent) / max(run.last_published - run.first,
                                                               1e-6), 1),
        "offered_msgs_per_s": rate, "lost": run.lost, "bad_messages": run.bad,
        "broker": kind, **machine(),
    }


def run_bench_scale(args: argparse.Namespace) -> int:
    quiet_logs()
    r = asyncio.run(bench_scale(args.seconds, zones=args.zones, devices=args.devices,
                                rate=args.rate, keepalive=args.keepalive,
                                publishers=args.publishers))
    death = r["node_death_detect_s"]
    death_text = "no alarm" if death is None else \
        f"{death:.2f} s ({death / r['keepalive_s']:.2f} × keepalive {r['keepalive_s']} s)"
    lines = [
        f"scale: {r['devices']} devices in {r['zones']} zones, {r['nodes']} nodes, "
        f"{r['msgs_per_s']:.0f} msg/s processed (offered {r['offered_msgs_per_s']:.0f}, "
        f"lost {r['lost']}), {r['broker']}",
        f"  server RSS {r['server_rss_mb']:.0f} MB, CPU {r['server_cpu_pct']:.0f} % of a core",
        f"  ingest lag p50 {r['ingest_lag_p50_ms']:.1f} ms, p99 {r['ingest_lag_p99_ms']:.1f} ms;"
        f" alarm latency p50 {r['alarm_p50_ms']:.1f} ms, p99 {r['alarm_p99_ms']:.1f} ms",
        f"  node death → alarm: {death_text}; the broker published the Will after "
        f"{r['will_published_s']} s",
    ]
    emit(r, args.json, lines)
    return 0
