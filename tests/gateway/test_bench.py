"""``custodywatch bench modbus`` runs end to end on a small fleet and ends with the JSON
object tools read (the numbers themselves are printed, not asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

EXE = Path(sys.executable).parent / "custodywatch"


def test_bench_modbus_prints_its_json_last() -> None:
    """Six devices (five of them die in phase 2), two seconds per phase: exit 0, and the
    last line has the three figures."""
    done = subprocess.run([str(EXE), "bench", "modbus", "--json", "--seconds", "2",
                           "--devices", "6", "--log-level", "WARNING"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    result = json.loads(lines[-1])
    assert set(result) == {"cpu_pct", "jitter_p99_ms", "healthy_period_p99_ms_with_dead"}
    assert all(isinstance(v, float) for v in result.values()), result
    assert "healthy:" in done.stdout and "5 dead:" in done.stdout
    print(done.stdout)


def test_bench_modbus_with_the_mqtt_session(mqtt_broker) -> None:
    """With --broker the same run goes through the edge agent's session (the issue #5
    figures are taken this way): exit 0, the JSON last, nothing coalesced at this rate."""
    done = subprocess.run([str(EXE), "bench", "modbus", "--json", "--seconds", "2",
                           "--devices", "6", "--broker", mqtt_broker.url,
                           "--log-level", "WARNING"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "with MQTT" in done.stdout and "data coalesced 0" in done.stdout
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(result) == {"cpu_pct", "jitter_p99_ms", "healthy_period_p99_ms_with_dead"}
