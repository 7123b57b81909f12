"""Shelving: an operator's timed, audited decision to stop an alarm being announced.

ISA-18.2 / IEC 62682 §4: shelving is a temporary operator action with a reason, limited in
time, controlled by role, and recorded; the alarm comes back by itself when the time is up.
It applies to the alarm *point* — here a (rule, subject) — not to one occurrence, so a
condition that clears and returns while shelved stays shelved.

Pure: the shelf takes the time as an argument.  Validation raises ShelveRefused (a 4xx at
the API) before anything changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from server.alarms.lifecycle import ShelfMark
from server.alarms.settings import ShelvingSettings
from server.errors import Conflict, ServerError
from server.rules.types import AlarmKey


class ShelveRefused(ServerError):
    """A shelve or unshelve request that breaks the policy (reason, duration, role)."""


class NotShelved(ShelveRefused, Conflict):
    pass


@dataclass(frozen=True, slots=True)
class ShelfEntry:
    rule: str
    subject: str
    by: str
    role: str
    reason: str
    at: float  # real epoch s
    until: float  # real epoch s
    duration_s: float  # site seconds, as asked

    @property
    def key(self) -> AlarmKey:
        return (self.rule, self.subject)

    @property
    def mark(self) -> ShelfMark:
        return ShelfMark(self.until, self.by, self.reason)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ShelfEntry:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


class Shelf:
    def __init__(self, settings: ShelvingSettings, speed: float = 1.0,
                 entries: Iterable[ShelfEntry] = ()) -> None:
        self.settings = settings
        self.speed = speed
        self._entries: dict[AlarmKey, ShelfEntry] = {e.key: e for e in entries}

    def check(self, rule: str, role: str, reason: str, duration_s: float) -> None:
        """Raise ShelveRefused unless this role may shelve this rule for that long."""
        s = self.settings
        if rule in s.never_shelve:
            raise ShelveRefused(f"{rule} alarms may not be shelved (site policy)")
        limit = s.max_s_by_role.get(role)
        if limit is None:
            raise ShelveRefused(f"role {role!r} may not shelve alarms")
        if len(reason.strip()) < s.min_reason_chars:
            raise ShelveRefused(f"a reason of at least {s.min_reason_chars} characters "
                                "is required")
        if not duration_s > 0:
            raise ShelveRefused("the duration must be positive")
        if duration_s > limit:
            raise ShelveRefused(f"at most {limit:g} s for role {role!r} "
                                f"({duration_s:g} s asked)")

    def shelve(self, rule: str, subject: str, *, by: str, role: str, reason: str,
               duration_s: float, now: float) -> ShelfEntry:
        """Shelve (or re-shelve with a new time and reason) a (rule, subject)."""
        self.check(rule, role, reason, duration_s)
        entry = ShelfEntry(rule, subject, by, role, reason.strip(), now,
                           now + duration_s / self.speed, duration_s)
        self._entries[entry.key] = entry
        return entry

    def unshelve(self, key: AlarmKey) -> ShelfEntry:
        entry = self._entries.pop(key, None)
        if entry is None:
            raise NotShelved(f"{key[0]}/{key[1]} is not shelved")
        return entry

    def expire(self, now: float) -> list[ShelfEntry]:
        """Remove and return the entries whose time is up (automatic unshelve)."""
        done = [e for e in self._entries.values() if e.until <= now]
        for e in done:
            del self._entries[e.key]
        return done

    def next_due(self) -> float | None:
        return min((e.until for e in self._entries.values()), default=None)

    def get(self, key: AlarmKey) -> ShelfEntry | None:
        return self._entries.get(key)

    def mark(self, key: AlarmKey) -> ShelfMark | None:
        entry = self._entries.get(key)
        return entry.mark if entry is not None else None

    def entries(self) -> list[ShelfEntry]:
        return sorted(self._entries.values(), key=lambda e: (e.until, e.rule, e.subject))
