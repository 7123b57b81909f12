"""The whole-server benches (issue #7): each runs briefly through the CLI and its JSON
holds sane figures — no timing asserts.  The CLI runs load both cores, so they are
``serial`` (run alone, after the parallel suite)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from protocol.profiles import load_profiles
from protocol.site import load_site
from server.perf.harness import parse_metrics
from server.perf.observe import percentile
from server.perf.site import DEATH_NODE, PANIC_NODE, make_site

REPO = Path(__file__).resolve().parents[2]


def bench(*args: str, timeout: float = 240) -> dict:
    """Run a bench; on a timeout kill its whole process group (broker, server, load
    generators), not only the bench's own process."""
    proc = subprocess.Popen([sys.executable, "-m", "server.cli", "bench", *args, "--json"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


# ---------------------------------------------------------------------------- pieces


def test_scale_site_has_2000_devices_in_200_zones_each_hosted_once(tmp_path: Path) -> None:
    site = make_site(tmp_path, 200, 10, death_probe=True)
    assert site.device_count == 2000
    assert len(site.config.zones) == 200
    # The server loads the very same files (aliases such as camera2 included).
    config = load_site(site.site_file, load_profiles(site.profiles_dir))
    assert len(config.devices()) == 2000
    assert {d.id for d in config.devices()} == \
        {d.id for n in site.nodes.values() for d in n.devices}
    assert all(d.profile == "panic" for d in site.nodes[PANIC_NODE].devices)
    assert site.nodes[DEATH_NODE].devices == ()
    assert PANIC_NODE not in {n.id for n in site.load_nodes()}


def test_default_site_pads_nothing(tmp_path: Path) -> None:
    site = make_site(tmp_path, 20)
    profiles = {d.profile for n in site.nodes.values() for d in n.devices}
    assert profiles <= {"reader", "camera", "recorder", "search", "panic", "door", "env",
                        "smoke", "lockers"}
    assert not any(p.name.startswith("camera2") for p in site.profiles_dir.iterdir())


def test_parse_metrics_sums_processed_messages() -> None:
    text = (
        '# TYPE custodywatch_messages_ingested counter\n'
        'custodywatch_messages_ingested_total{type="DeviceData"} 7.0\n'
        'custodywatch_messages_ingested_total{type="NodeBirth"} 2.0\n'
        '# TYPE custodywatch_bad_messages counter\n'
        'custodywatch_bad_messages_total{reason="schema"} 1.0\n'
        '# TYPE custodywatch_events_stored counter\n'
        'custodywatch_events_stored_total 3.0\n'
    )
    scrape = parse_metrics(text)
    assert scrape.processed == 10.0
    assert scrape.events_stored == 3.0
    assert scrape.bad == {"schema": 1.0}


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([], 50) == 0.0


# ---------------------------------------------------------------------------- CLI runs


@pytest.mark.serial
def test_bench_ingest_json() -> None:
    r = bench("ingest", "--seconds", "2")
    for key in ("msgs", "seconds", "msgs_per_s", "baseline_msgs_per_s", "lost",
                "server_rss_mb", "server_cpu_pct"):
        assert key in r, key
    assert r["msgs"] > 0 and r["msgs_per_s"] > 0 and r["baseline_msgs_per_s"] > 0
    assert r["lost"] == 0 and r["baseline_lost"] == 0
    assert r["bad_messages"] == 0  # the server accepted every message of the mix
    assert r["events_stored"] > 0  # reader tag events went all the way to SQLite
    assert set(r["by_type"]) >= {"DeviceData", "DeviceEvent", "NodeHeartbeat"}
    assert r["server_rss_mb"] > 10


@pytest.mark.serial
def test_bench_latency_json() -> None:
    r = bench("latency", "--seconds", "2")
    for key in ("samples", "p50_ms", "p99_ms", "max_ms", "background_msgs_per_s"):
        assert key in r, key
    assert r["samples"] > 0 and r["timeouts"] == 0  # every press raised its alarm
    assert 0 < r["p50_ms"] <= r["p99_ms"] <= r["max_ms"]
    assert r["background_msgs_per_s"] > 0
    assert r["lost"] == 0 and r["bad_messages"] == 0


@pytest.mark.serial
def test_bench_scale_json() -> None:
    r = bench("scale", "--seconds", "2", "--keepalive", "4")
    assert r["devices"] == 2000 and r["zones"] == 200
    for key in ("server_rss_mb", "server_cpu_pct", "ingest_lag_p99_ms", "node_death_detect_s",
                "keepalive_s"):
        assert key in r, key
    assert r["node_death_detect_s"] is not None  # the frozen node's death raised its alarm
    assert r["node_death_detect_s"] > 0 and r["keepalive_s"] == 4
    assert r["ingest_lag_p99_ms"] > 0
    assert r["lost"] == 0 and r["bad_messages"] == 0


@pytest.mark.serial
def test_bench_sweep_json_and_plot(tmp_path: Path) -> None:
    png = tmp_path / "ingest.png"
    r = bench("sweep", "--seconds", "2", "--loads", "500,2000", "--plot", str(png))
    assert [s["offered_msgs_per_s"] for s in r["steps"]] == [500.0, 2000.0]
    for step in r["steps"]:
        assert step["msgs_per_s"] > 0 and step["lost"] == 0 and step["samples"] > 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_rejects_bad_arguments() -> None:
    proc = subprocess.run([sys.executable, "-m", "server.cli", "bench", "sweep", "--seconds",
                           "1", "--loads", "fast"], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2
    assert "--loads" in proc.stdout + proc.stderr


def test_embedded_broker_fallback_carries_a_node_birth(tmp_path: Path) -> None:
    """Without Mosquitto the benches use the embedded amqtt broker: a node can connect,
    publish its births at QoS 1 and get them acknowledged."""
    import time

    from server.perf.harness import Broker
    from server.perf.loadgen import NodeSession

    site = make_site(tmp_path, 2)
    broker = Broker(tmp_path, embedded=True).start()
    try:
        assert broker.kind == "amqtt"
        session = NodeSession("127.0.0.1", broker.port, site.config.id, site.nodes["edge-1"],
                              bdseq=1)
        deadline = time.monotonic() + 20
        while not session.connected and time.monotonic() < deadline:
            session.client.loop(timeout=0.05)
        births = session.births()
        while session.unacked and time.monotonic() < deadline:
            session.client.loop(timeout=0.05)
        assert births == 1 + len(site.nodes["edge-1"].devices)
        assert session.acked == births
        session.client.disconnect()
    finally:
        broker.stop()
