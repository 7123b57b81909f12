"""Alarm-system KPIs for the supervisor (案管/法制: 日清周结月考).

The measures of ISA-18.2 §16 / IEC 62682 "monitoring and assessment" and EEMUA 191:

* alarms announced per 10 minutes per console, and the *flood* periods (more than
  ``flood_per_10min`` in one 10-minute interval; consecutive intervals merge);
* *standing* alarms (active longer than ``standing_after_s``);
* *chattering* sources (``chatter_count`` activations of one (rule, subject) within
  ``chatter_window_s``);
* time to acknowledge and time to clear (median, 90th percentile);
* the top-10 sources (most activations);
* all of it per shift (site-local shift starts) and per day (site-local days).

Durations (``*_s``) are *site* seconds (real seconds × speed), like every other duration of
the system; timestamps are real.  Pure: history, alarms and clock come in as arguments.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from server.alarms.lifecycle import Alarm
from server.alarms.settings import KpiSettings

TEN_MINUTES_S = 600.0
TOP_N = 10


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One stored alarm transition (the store's alarm_history row, alarm as it was)."""

    alarm: Alarm
    action: str
    at: float
    by: str | None = None


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (q in [0, 1]); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _stats(values: Sequence[float], speed: float) -> dict[str, Any]:
    med, p90 = percentile(values, 0.5), percentile(values, 0.9)
    return {"count": len(values),
            "median_s": round(med * speed, 1) if med is not None else None,
            "p90_s": round(p90 * speed, 1) if p90 is not None else None}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class _Raise:
    at: float
    alarm: Alarm


class KpiReport:
    def __init__(self, settings: KpiSettings, *, speed: float = 1.0, timezone: str = "UTC"):
        self.settings = settings
        self.speed = speed
        self.tz = ZoneInfo(timezone)

    def build(self, history: Iterable[HistoryEntry], open_alarms: Iterable[Alarm],
              start: float, end: float, now: float) -> dict[str, Any]:
        """The report over ``[start, end)``; ``history`` may hold more (it is filtered)."""
        entries = sorted(history, key=lambda h: h.at)
        raises = [_Raise(h.at, h.alarm) for h in entries
                  if h.action == "raised" and start <= h.at < end]
        announced = [r for r in raises
                     if r.alarm.shelved_until is None and r.alarm.suppressed_by is None]
        final: dict[int, Alarm] = {}
        for h in entries:
            final[h.alarm.id] = h.alarm
        ack_times, clear_times = self._response_times(entries, start, end)
        s = self.settings
        return {
            "from": _iso(start), "to": _iso(end), "speed": self.speed,
            "thresholds": {"flood_per_10min": s.flood_per_10min,
                           "standing_after_s": s.standing_after_s,
                           "chatter_count": s.chatter_count,
                           "chatter_window_s": s.chatter_window_s},
            "activations": len(raises), "announced": len(announced),
            "shelved": sum(1 for r in raises if r.alarm.shelved_until is not None),
            "suppressed": sum(1 for r in raises if r.alarm.suppressed_by is not None),
            "consoles": {name: self._console(zones, announced, start, end)
                         for name, zones in s.consoles.items()},
            "standing": self._standing(open_alarms, now),
            "chattering": self._chattering(raises),
            "time_to_ack": _stats(list(ack_times.values()), self.speed),
            "time_to_clear": _stats(list(clear_times.values()), self.speed),
            "top_sources": [{"rule": rule, "subject": subject, "count": n}
                            for (rule, subject), n in Counter(
                                (r.alarm.rule, r.alarm.subject) for r in raises
                            ).most_common(TOP_N)],
            "by_shift": self._periods(self._shift_bounds(start, end), raises, ack_times,
                                      clear_times),
            "by_day": self._periods(self._day_bounds(start, end), raises, ack_times,
                                    clear_times),
        }

    # ------------------------------------------------------------------ parts

    def _response_times(self, entries: list[HistoryEntry], start: float,
                        end: float) -> tuple[dict[int, float], dict[int, float]]:
        """Per alarm raised in the window: seconds (real) from its raise to its first
        acknowledgement and to its first clear."""
        raised: dict[int, float] = {}
        ack: dict[int, float] = {}
        clear: dict[int, float] = {}
        for h in entries:
            a = h.alarm
            if h.action == "raised" and a.id not in raised and start <= a.raised_at < end:
                raised[a.id] = a.raised_at
            elif h.action == "acked" and a.id in raised and a.id not in ack:
                ack[a.id] = h.at - raised[a.id]
            elif h.action == "cleared" and a.id in raised and a.id not in clear:
                clear[a.id] = h.at - raised[a.id]
        return ack, clear

    def _console(self, zones: list[str], raises: list[_Raise], start: float,
                 end: float) -> dict[str, Any]:
        width = TEN_MINUTES_S / self.speed
        mine = [r for r in raises if "*" in zones or r.alarm.zone in zones]
        n_buckets = max(1, math.ceil((end - start) / width))
        counts = [0] * n_buckets
        for r in mine:
            counts[min(int((r.at - start) // width), n_buckets - 1)] += 1
        floods: list[dict[str, Any]] = []
        limit = self.settings.flood_per_10min
        for i, n in enumerate(counts):
            if n <= limit:
                continue
            b_start = start + i * width
            if floods and floods[-1]["_end"] == b_start:
                floods[-1]["_end"] = b_start + width
                floods[-1]["count"] += n
                floods[-1]["peak"] = max(floods[-1]["peak"], n)
            else:
                floods.append({"_start": b_start, "_end": b_start + width, "count": n,
                               "peak": n})
        flood_time = sum(f["_end"] - f["_start"] for f in floods)
        return {
            "zones": zones, "alarms": len(mine),
            "per_10min": [{"start": _iso(start + i * width), "count": n}
                          for i, n in enumerate(counts)],
            "average_per_10min": round(len(mine) / n_buckets, 2),
            "peak_per_10min": max(counts),
            "floods": [{"start": _iso(f["_start"]), "end": _iso(f["_end"]),
                        "count": f["count"], "peak_per_10min": f["peak"]} for f in floods],
            "percent_time_in_flood": round(100 * flood_time / (n_buckets * width), 1),
        }

    def _standing(self, open_alarms: Iterable[Alarm], now: float) -> list[dict[str, Any]]:
        after = self.settings.standing_after_s / self.speed
        out = [{"id": a.id, "rule": a.rule, "subject": a.subject, "zone": a.zone,
                "severity": a.severity, "state": a.state, "since": _iso(a.raised_at),
                "age_s": round((now - a.raised_at) * self.speed, 1)}
               for a in open_alarms if a.active and now - a.raised_at >= after]
        return sorted(out, key=lambda x: -x["age_s"])

    def _chattering(self, raises: list[_Raise]) -> list[dict[str, Any]]:
        window = self.settings.chatter_window_s / self.speed
        by_key: dict[tuple[str, str], list[float]] = defaultdict(list)
        for r in raises:
            by_key[(r.alarm.rule, r.alarm.subject)].append(r.at)
        out = []
        for (rule, subject), times in by_key.items():
            times.sort()
            best, lo = 0, 0
            for hi, t in enumerate(times):
                while t - times[lo] > window:
                    lo += 1
                best = max(best, hi - lo + 1)
            if best >= self.settings.chatter_count:
                out.append({"rule": rule, "subject": subject, "activations": len(times),
                            "max_in_window": best})
        return sorted(out, key=lambda x: (-x["max_in_window"], x["rule"], x["subject"]))

    def _periods(self, bounds: list[tuple[str, float, float]], raises: list[_Raise],
                 ack: dict[int, float], clear: dict[int, float]) -> list[dict[str, Any]]:
        out = []
        for label, p_start, p_end in bounds:
            inside = [r for r in raises if p_start <= r.at < p_end]
            ids = {r.alarm.id for r in inside}
            out.append({
                "period": label, "start": _iso(p_start), "end": _iso(p_end),
                "activations": len(inside),
                "alarms": len(ids),
                "critical": len({r.alarm.id for r in inside if r.alarm.severity == "critical"}),
                "time_to_ack": _stats([ack[i] for i in ids if i in ack], self.speed),
                "time_to_clear": _stats([clear[i] for i in ids if i in clear], self.speed),
                "top_sources": [{"rule": rule, "subject": subject, "count": n}
                                for (rule, subject), n in Counter(
                                    (r.alarm.rule, r.alarm.subject) for r in inside
                                ).most_common(3)],
            })
        return out

    def _day_bounds(self, start: float, end: float) -> list[tuple[str, float, float]]:
        day = datetime.fromtimestamp(start, self.tz).date()
        out = []
        while True:
            d0 = datetime(day.year, day.month, day.day, tzinfo=self.tz).timestamp()
            nxt = day + timedelta(days=1)
            d1 = datetime(nxt.year, nxt.month, nxt.day, tzinfo=self.tz).timestamp()
            if d0 >= end:
                break
            out.append((day.isoformat(), max(d0, start), min(d1, end)))
            day = nxt
        return out

    def _shift_bounds(self, start: float, end: float) -> list[tuple[str, float, float]]:
        starts = [tuple(int(x) for x in t.split(":")) for t in self.settings.shift_starts]
        day = datetime.fromtimestamp(start, self.tz).date() - timedelta(days=1)
        marks: list[tuple[str, float]] = []
        while True:
            for hh, mm in starts:
                t = datetime(day.year, day.month, day.day, hh, mm, tzinfo=self.tz)
                marks.append((t.strftime("%Y-%m-%d %H:%M"), t.timestamp()))
            if marks[-1][1] >= end:
                break
            day += timedelta(days=1)
        out = []
        for (label, m0), (_, m1) in pairwise(marks):
            if m1 > start and m0 < end:
                out.append((label, max(m0, start), min(m1, end)))
        return out
