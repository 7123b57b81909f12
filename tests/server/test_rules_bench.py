"""The rule benchmark entry point runs and reports its figures (no timing asserts)."""

from __future__ import annotations

from protocol.profiles import load_profiles
from server.rules.bench import bench_rules, synthetic_site


def test_synthetic_site_is_a_hundred_room_centre() -> None:
    """The benchmark's centre validates as a SiteConfig with 100 zones."""
    site = synthetic_site(load_profiles())
    assert len(site.zones) == 100 and len(site.devices()) > 300


def test_bench_rules_returns_events_and_microseconds() -> None:
    """A small run returns {"events": int, "us_per_event": positive float}."""
    result = bench_rules(events=200)
    assert set(result) == {"events", "us_per_event"}
    assert result["events"] == 200 and isinstance(result["events"], int)
    assert isinstance(result["us_per_event"], float) and result["us_per_event"] > 0
