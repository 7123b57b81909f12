"""docs/img/ingest.png: processed against offered load (left), alarm latency and ingest
lag percentiles against offered load (right).  matplotlib with the Agg backend: no
display needed."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_sweep(result: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = result["steps"]
    offered = [s["offered_msgs_per_s"] for s in steps]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110)
    top = max([*offered, *(s["msgs_per_s"] for s in steps), 10_000]) * 1.1
    left.plot([0, top], [0, top], color="#bbbbbb", linestyle="--", label="processed = offered")
    left.plot(offered, [s["published_msgs_per_s"] for s in steps], marker="x", color="#999999",
              linestyle="none", label="published (the generators' share of the 2 cores)")
    left.plot(offered, [s["msgs_per_s"] for s in steps], marker="o", color="#1f5fa8",
              label="processed by the server, full path")
    left.axhline(10_000, color="#c0392b", linewidth=0.8, linestyle=":", label="goal 10,000")
    left.set(xlabel="offered load (msg/s)", ylabel="processed (msg/s)",
             title="Throughput", xlim=(0, top), ylim=(0, top))
    left.legend(loc="upper left", fontsize=8)
    left.grid(alpha=0.3)
    for key, label, style in (("p50_ms", "alarm p50", "-o"), ("p99_ms", "alarm p99", "-s"),
                              ("ingest_lag_p99_ms", "ingest lag p99", ":^")):
        values = [max(s[key], 0.1) for s in steps]
        right.plot(offered, values, style, label=label)
    right.axhline(20, color="#27ae60", linewidth=0.8, linestyle=":", label="goal p50 20 ms")
    right.axhline(100, color="#c0392b", linewidth=0.8, linestyle=":", label="goal p99 100 ms")
    right.set_yscale("log")
    right.set(xlabel="offered load (msg/s)", ylabel="ms (log)",
              title="Edge event → alarm on the WebSocket")
    right.legend(loc="upper left", fontsize=8)
    right.grid(alpha=0.3, which="both")
    fig.suptitle(f"custodywatch bench sweep: {result['zones']} zones, {result['devices']} "
                 f"devices, {result['seconds']:g} s per step, {result['broker']}, 2 cores",
                 fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
