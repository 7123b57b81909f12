"""Custody records, pure: the custody clock of a person and the checks of an intake.

The clock reads the same limits as the rules (``rules.custody_time_exceeded.limits_s`` and
``rules.custody_time_warning.lead_s`` of the site, server/rules/params.py), so the API's
deadline is the instant the rule fires.  Limits are site seconds; at ``--speed N`` the
real deadline comes N times sooner.

Intake checks are the contradictions a form cannot catch field by field (docs/custody.md):
a resident identity card number that disagrees with the stated sex or age, a criminal
basis for a child below the age of criminal responsibility, a clock that starts in the
future.  Each problem names its field, so the API answers 422 the way pydantic does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from protocol.site import SiteConfig
from server.rules.catalogue import resolve_site_rules
from server.rules.custody_time import custody_limit
from server.twin import PersonState

ClockState = Literal["running", "warning", "exceeded", "ended"]

# 刑法 第十七条 (2021 amendment): below 12 nobody bears criminal responsibility, so a
# criminal summons of a younger child is a data error.  Administrative questioning and
# continued questioning have no lower age (a child may be questioned to establish facts,
# 治安管理处罚法: under 14 not punished but the facts are still established).
MIN_AGE_BY_BASIS: Mapping[str, int] = {"criminal_summons": 12, "criminal_summons_extended": 12}

# A clock may start before the intake is typed in (the person arrived earlier), never
# after it; this much real time absorbs clocks of client and server disagreeing.
FUTURE_TOLERANCE_S = 60.0

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


@dataclass(frozen=True, slots=True)
class CustodyLimits:
    """Limit per legal basis and the warning's lead, both site seconds."""

    limits_s: Mapping[str, float]
    lead_s: float

    @classmethod
    def from_site(cls, site: SiteConfig) -> CustodyLimits:
        params = resolve_site_rules(site.rules)
        return cls(dict(params["custody_time_exceeded"].default.limits_s),
                   float(params["custody_time_warning"].default.lead_s))


@dataclass(frozen=True, slots=True)
class CustodyClock:
    basis: str  # the basis the limit is taken from (the shortest one if unknown)
    basis_known: bool
    limit_s: float  # site seconds
    start: float  # epoch seconds (real)
    warning_at: float
    deadline: float
    end: float | None  # release or transfer
    elapsed_s: float  # site seconds, until now or the end
    remaining_s: float | None  # site seconds; negative once exceeded; None once ended
    state: ClockState


def custody_clock(person: PersonState, limits: CustodyLimits, speed: float,
                  now: float) -> CustodyClock | None:
    """The clock of a person's current (or last) custody; None if they never had one."""
    if person.custody_start is None:
        return None
    basis, limit, known = custody_limit(person, dict(limits.limits_s))
    start = person.custody_start
    deadline = start + limit / speed
    warning_at = start + max(limit - limits.lead_s, 0.0) / speed
    end = None if person.in_custody else person.released_at
    until = end if end is not None else now
    state: ClockState
    if end is not None:
        state = "ended"
    elif now >= deadline:
        state = "exceeded"
    elif now >= warning_at:
        state = "warning"
    else:
        state = "running"
    return CustodyClock(
        basis=basis, basis_known=known, limit_s=limit, start=start, warning_at=warning_at,
        deadline=deadline, end=end, elapsed_s=max(until - start, 0.0) * speed,
        remaining_s=None if end is not None else (deadline - now) * speed, state=state)


def site_today(site: SiteConfig, now: float) -> date:
    try:
        tz: ZoneInfo | None = ZoneInfo(site.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        tz = None
    return datetime.fromtimestamp(now, tz or UTC).date()


def id_number_facts(number: str) -> tuple[date, str] | str:
    """(birth date, sex) from an 18-digit resident identity card number (GB 11643-1999),
    or the reason it is not a valid one."""
    if len(number) != 18 or not number[:17].isdigit() or number[17] not in "0123456789X":
        return "an 18-character resident identity card number (17 digits and a digit or X)"
    check = _ID_CHECK[sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS,
                                                    strict=True)) % 11]
    if number[17] != check:
        return f"check character is {number[17]}, the number's digits give {check}"
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return f"birth date {number[6:14]} is not a date"
    return born, "male" if int(number[16]) % 2 else "female"


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def intake_problems(*, sex: str, age: int, custody: str, id_number: str | None,
                    custody_start: float | None, now: float, today: date,
                    ) -> list[tuple[str, str]]:
    """Contradictions in an intake, as (field, message) pairs; empty when consistent."""
    problems: list[tuple[str, str]] = []
    minimum = MIN_AGE_BY_BASIS.get(custody)
    if minimum is not None and age < minimum:
        problems.append(("age", f"age {age} is below the age of criminal responsibility "
                                f"({minimum}, 刑法 第十七条): {custody} cannot apply"))
    if id_number is not None:
        facts = id_number_facts(id_number)
        if isinstance(facts, str):
            problems.append(("id_number", facts))
        else:
            born, id_sex = facts
            if born > today:
                problems.append(("id_number", f"birth date {born.isoformat()} is in the "
                                              f"future"))
            else:
                if id_sex != sex:
                    problems.append(("sex", f"sex {sex} contradicts id_number, which is "
                                            f"a {id_sex}'s"))
                real_age = age_on(born, today)
                if real_age != age:
                    problems.append(("age", f"age {age} contradicts id_number (born "
                                            f"{born.isoformat()}: {real_age} today)"))
    if custody_start is not None and custody_start > now + FUTURE_TOLERANCE_S:
        problems.append(("custody_start", "the custody clock cannot start in the future"))
    return problems
