"""``custodywatch bench rules``: the command a user runs, its JSON line and its table (no
timing asserts: the figures are printed, not judged)."""

from __future__ import annotations

import json
import subprocess
import sys


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "server.cli", "bench", "rules", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def test_bench_rules_json_is_one_object_on_the_last_line() -> None:
    """--json --events 500: exit 0, the last stdout line is a JSON object with the message
    count, the incremental figure, the full-evaluation baseline and the batched figure."""
    done = _bench("--json", "--events", "500")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["events"] == 500 and isinstance(result["events"], int)
    for key in ("us_per_event", "baseline_full_us_per_event", "batched_us_per_event"):
        assert isinstance(result[key], float) and result[key] > 0, key
    assert result["batch_size"] == 100
    print(result)  # the numbers, for whoever reads the test log


def test_bench_rules_prints_a_table_for_people() -> None:
    """Without --json: a table, one line per figure asked for (baseline and batches off)."""
    done = _bench("--events", "200", "--baseline-events", "0", "--batch", "0")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 2 and "µs/message" in lines[1] and "200 messages" in lines[1]


def test_bench_rules_refuses_a_non_positive_event_count() -> None:
    """--events 0 is a usage error (exit 2) with a message, not a division by zero."""
    done = _bench("--events", "0")
    assert done.returncode == 2
    assert "--events must be >= 1" in done.stderr
