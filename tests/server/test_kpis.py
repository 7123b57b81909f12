"""Alarm KPIs (server/alarms/kpis.py): floods per console, standing and chattering alarms,
time to acknowledge / clear, top sources, per shift and per day."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from server.alarms.kpis import HistoryEntry, KpiReport, percentile
from server.alarms.lifecycle import Alarm
from server.alarms.settings import KpiSettings

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 7, 0, tzinfo=TZ).timestamp()  # 07:00 local, an hour before 08:00


def alarm(alarm_id: int, rule: str, subject: str, zone: str, raised: float, **kw: object,
          ) -> Alarm:
    return Alarm(id=alarm_id, rule=rule, subject=subject, zone=zone, severity="major",
                 state="active_unacked", message_zh="", message_en="", raised_at=raised,
                 updated_at=raised, **kw)  # type: ignore[arg-type]


def lifecycle(a: Alarm, ack_after: float | None, clear_after: float | None,
              ) -> list[HistoryEntry]:
    out = [HistoryEntry(a, "raised", a.raised_at)]
    if ack_after is not None:
        out.append(HistoryEntry(a, "acked", a.raised_at + ack_after, "duty1"))
    if clear_after is not None:
        out.append(HistoryEntry(a, "cleared", a.raised_at + clear_after))
    return out


def test_percentile_interpolates() -> None:
    """Median and p90 by linear interpolation between closest ranks."""
    assert percentile([], 0.5) is None
    assert percentile([10], 0.9) == 10
    assert percentile([1, 2, 3, 4], 0.5) == 2.5
    assert percentile(list(range(1, 11)), 0.9) == 9.1


def test_kpi_report() -> None:
    """12 alarms in one 10-minute interval of holding-1 is a flood on the duty desk and on
    the holding console but not on the interview console; a door re-raised 4 times in a
    minute is chattering; an alarm active for a day is standing; ack and clear times give
    median and p90; the report splits by shift (08:00/20:00 local) and by day."""
    settings = KpiSettings(consoles={"duty-desk": ["*"], "holding": ["holding-1"],
                                     "interview": ["interrogation-1"]})
    history: list[HistoryEntry] = []
    for i in range(12):  # 07:20 – 07:25: a flood
        a = alarm(i + 1, "door_held_open", f"door-{i}", "holding-1", T0 + 1200 + i * 25)
        history += lifecycle(a, ack_after=10 * (i + 1), clear_after=100)
    chatter = alarm(20, "door_forced", "door-holding-2", "holding-1", T0 + 4000)
    history += [HistoryEntry(chatter, "raised", T0 + 4000 + k * 15) for k in range(4)]
    late = alarm(21, "camera_fault", "camera-interrogation-1", "interrogation-1", T0 + 7200)
    history += lifecycle(late, ack_after=30, clear_after=None)  # 09:00, the day shift
    shelved = alarm(22, "door_held_open", "door-x", "holding-1", T0 + 7300,
                    shelved_until=T0 + 9000)
    history.append(HistoryEntry(shelved, "raised", T0 + 7300))
    standing = alarm(30, "device_offline", "camera-holding-3", "holding-3", T0 - 90000)
    end = T0 + 3 * 3600
    report = KpiReport(settings, timezone="Asia/Shanghai").build(
        history, [standing, late], T0, end, now=end)

    assert report["activations"] == 18 and report["announced"] == 17
    assert report["shelved"] == 1
    duty = report["consoles"]["duty-desk"]
    assert duty["peak_per_10min"] == 12 and len(duty["floods"]) == 1
    assert duty["floods"][0]["count"] == 12 and len(duty["per_10min"]) == 18
    assert report["consoles"]["holding"]["floods"] and not report["consoles"]["interview"][
        "floods"]
    assert [s["subject"] for s in report["standing"]] == ["camera-holding-3"]
    [chattering] = report["chattering"]
    assert chattering["subject"] == "door-holding-2" and chattering["max_in_window"] == 4
    ack = report["time_to_ack"]
    assert ack["count"] == 13 and ack["median_s"] == 60.0  # 10, 20 … 120 s and 30 s
    assert report["time_to_clear"] == {"count": 12, "median_s": 100.0, "p90_s": 100.0}
    assert report["top_sources"][0] == {"rule": "door_forced", "subject": "door-holding-2",
                                        "count": 4}
    shifts = report["by_shift"]
    assert [s["period"] for s in shifts] == ["2026-03-01 20:00", "2026-03-02 08:00"]
    assert [s["activations"] for s in shifts] == [12, 6]  # the chatter is at 08:06
    assert [d["period"] for d in report["by_day"]] == ["2026-03-02"]


def test_speed_scales_kpi_durations() -> None:
    """At --speed 60, 10 real seconds to acknowledge are 600 site seconds, and a
    10-minute interval is 10 real seconds."""
    a = alarm(1, "door_forced", "d", "holding-1", T0)
    report = KpiReport(KpiSettings(), speed=60, timezone="Asia/Shanghai").build(
        lifecycle(a, ack_after=10, clear_after=None), [], T0, T0 + 60, now=T0 + 60)
    assert report["time_to_ack"]["median_s"] == 600.0
    assert len(report["consoles"]["duty-desk"]["per_10min"]) == 6
