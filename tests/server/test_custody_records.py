"""The pure part of custody records (server/custody.py): identity card checks, intake
contradictions, the custody clock at --speed, and the twin's file of outings and
belongings."""

from __future__ import annotations

from datetime import date

from protocol.codec import now_ms
from protocol.messages import DeviceEvent
from protocol.profiles import load_profiles
from protocol.site import load_site
from protocol.topics import DeviceMessage, device_topic, parse_topic
from server.custody import (
    CustodyLimits,
    age_on,
    custody_clock,
    id_number_facts,
    intake_problems,
)
from server.twin import PersonState, Twin

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(born: str, sex: str, region: str = "110108", serial: str = "12") -> str:
    """A valid 18-character resident identity card number (GB 11643-1999)."""
    body = f"{region}{born}{serial}{'1' if sex == 'male' else '2'}"
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, WEIGHTS,
                                                               strict=True)) % 11]


LIMITS = CustodyLimits({"criminal_summons": 12 * 3600.0,
                        "administrative_questioning": 8 * 3600.0}, lead_s=3600.0)
TODAY = date(2026, 3, 15)


def test_identity_card_numbers() -> None:
    """A valid number gives birth date and sex; a wrong check character, a non-date and a
    wrong length are named."""
    assert id_number_facts(id_number("19900315", "female")) == (date(1990, 3, 15), "female")
    assert id_number_facts(id_number("20100101", "male")) == (date(2010, 1, 1), "male")
    good = id_number("19900315", "male")
    bad_check = good[:17] + ("0" if good[17] != "0" else "1")
    assert "check character" in str(id_number_facts(bad_check))
    assert "not a date" in str(id_number_facts(id_number("19901340", "male")))
    assert "18-character" in str(id_number_facts("12345"))


def test_age_boundaries() -> None:
    """Age counts whole years: the birthday itself is the day the age changes."""
    assert age_on(date(2008, 3, 15), TODAY) == 18
    assert age_on(date(2008, 3, 16), TODAY) == 17


def test_intake_contradictions_name_their_field() -> None:
    """Sex and age contradicting the identity card, a criminal basis below 12 and a clock
    starting in the future are each reported on their field; consistent data passes."""
    now = 1_000_000.0
    ok = intake_problems(sex="female", age=36, custody="criminal_summons",
                         id_number=id_number("19900315", "female"), custody_start=now - 600,
                         now=now, today=TODAY)
    assert ok == []
    problems = dict(intake_problems(sex="male", age=30, custody="criminal_summons",
                                    id_number=id_number("19900315", "female"),
                                    custody_start=now + 3600, now=now, today=TODAY))
    assert set(problems) == {"sex", "age", "custody_start"}
    assert "born 1990-03-15: 36 today" in problems["age"]
    child = intake_problems(sex="male", age=11, custody="criminal_summons", id_number=None,
                            custody_start=None, now=now, today=TODAY)
    assert child and child[0][0] == "age" and "刑法 第十七条" in child[0][1]
    assert intake_problems(sex="male", age=11, custody="administrative_questioning",
                           id_number=None, custody_start=None, now=now, today=TODAY) == []


def test_clock_at_speed() -> None:
    """At speed 60 an 8 h basis ends 8 real minutes after the start; the warning starts an
    hour (site) earlier; remaining and elapsed are site seconds; a release ends it."""
    p = PersonState("S1", "suspect", custody_basis="administrative_questioning",
                    custody_start=1000.0, in_custody=True)
    c = custody_clock(p, LIMITS, 60, 1000.0 + 60)
    assert c is not None and c.state == "running"
    assert c.deadline == 1000.0 + 8 * 60 and c.warning_at == 1000.0 + 7 * 60
    assert c.elapsed_s == 3600 and c.remaining_s == 7 * 3600
    assert custody_clock(p, LIMITS, 60, 1000.0 + 7 * 60).state == "warning"  # type: ignore[union-attr]
    late = custody_clock(p, LIMITS, 60, 1000.0 + 9 * 60)
    assert late is not None and late.state == "exceeded" and late.remaining_s == -3600
    p.in_custody, p.released_at = False, 1000.0 + 120
    ended = custody_clock(p, LIMITS, 60, 5000.0)
    assert ended is not None and ended.state == "ended" and ended.elapsed_s == 7200
    assert ended.remaining_s is None
    unknown = PersonState("S2", "suspect", custody_basis=None, custody_start=0.0,
                          in_custody=True)
    clock = custody_clock(unknown, LIMITS, 1, 0.0)
    assert clock is not None and not clock.basis_known and clock.limit_s == 8 * 3600


def _event(twin: Twin, device: str, kind: str, data: dict[str, object], now: float) -> None:
    ref = twin.devices[device]
    twin.nodes[ref.node].online, twin.nodes[ref.node].bdseq = True, 0
    topic = parse_topic(device_topic("reference", ref.node, device, DeviceMessage.EVENT))
    msg = DeviceEvent(ts=now_ms(), seq=twin.nodes[ref.node].next_seq,
                      id=f"ev-{kind}-{now:.0f}-{device}", kind=kind,  # type: ignore[arg-type]
                      data=data)  # type: ignore[arg-type]
    twin.apply(topic, msg, now)


def test_twin_keeps_outings_belongings_and_transfer() -> None:
    """The file keeps each outing (start, until, end), each locker (stored, returned) and
    how custody ended (a transfer with its destination)."""
    profiles = load_profiles()
    twin = Twin(load_site("reference", profiles), profiles)
    twin.register(PersonState("S1", "suspect", tag="wb-S1", in_custody=True,
                              custody_start=0.0), 0.0)
    twin.start_outing("S1", 100.0, "hospital", 10.0)
    assert twin.people["S1"].outing_until == 100.0
    twin.end_outing("S1", 50.0)
    assert twin.people["S1"].outings == [{"start": 10.0, "until": 100.0, "ended": 50.0,
                                          "reason": "hospital"}]
    assert twin.people["S1"].outing_until is None
    _event(twin, "lockers-lockers-1", "locker_stored", {"locker": 3, "person": "S1"}, 60.0)
    _event(twin, "lockers-lockers-1", "locker_emptied", {"locker": 3, "person": "wb-S1"},
           70.0)
    assert twin.people["S1"].belongings == [{"locker": "3", "device": "lockers-lockers-1",
                                             "stored": 60.0, "returned": 70.0}]
    twin.start_outing("S1", 200.0, "scene visit", 80.0)
    twin.release("S1", 90.0, kind="transfer", reason="detention", to="看守所")
    s1 = twin.people["S1"]
    assert not s1.in_custody and s1.release_kind == "transfer" and s1.transferred_to == "看守所"
    assert s1.outing_until is None and s1.outings[-1]["ended"] == 90.0
