"""``custodywatch bench camera`` (edge/video/bench.py): runs and prints its numbers (a
benchmark reports, it does not pass or fail on them)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_bench_camera_prints_one_json_object_last() -> None:
    """One camera, two seconds: the text lines and, with --json, the keys of the issue on
    the last line (milliseconds per frame at 360p and 1080p, CPU % per camera)."""
    exe = Path(sys.executable).parent / "custodywatch"
    done = subprocess.run([str(exe), "bench", "camera", "--json", "--cameras", "1",
                           "--seconds", "2"], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    result = json.loads(lines[-1])
    print("\n" + "\n".join(lines))
    assert {"ms_per_frame_360p", "ms_per_frame_1080p", "cpu_pct_per_camera"} <= set(result)
    assert result["ms_per_frame_360p"] > 0 and result["cpu_pct_per_camera"] > 0
    assert result["measured_fps"] > 0, "the driver received no frames"
