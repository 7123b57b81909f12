"""Accelerated time (``--speed N``), one formula for every component.

Timestamps on the wire stay real UTC.  What ``--speed`` changes is durations: grace
periods, custody limits, heartbeats and simulated movement run N times faster.  Edge and
server must agree on heartbeat intervals, so both call :func:`scaled_interval`.
"""

MIN_HEARTBEAT_S = 1.0
"""Accelerated heartbeats never go below this many real seconds (a --speed 600 run would
otherwise flood the broker with heartbeats)."""


def scaled_interval(site_seconds: float, speed: float) -> float:
    """A heartbeat interval in real seconds at ``speed``."""
    return max(site_seconds / speed, min(site_seconds, MIN_HEARTBEAT_S))


def to_real(site_seconds: float, speed: float) -> float:
    """A site-time duration (grace period, custody limit) in real seconds."""
    return site_seconds / speed


def to_site(real_seconds: float, speed: float) -> float:
    return real_seconds * speed
