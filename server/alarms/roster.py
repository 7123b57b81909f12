"""Who is on shift and which zones each guard answers for (看管民警/安保 on duty).

A shift belongs to a user with role ``guard`` or ``supervisor``; a guard's shift carries
the zones assigned to them (``*`` for every zone).  Escalation (escalation.py) asks the
roster who to alert: the zone's guards first, then every guard on shift, then the
supervisors on shift.

Pure: no clock; planned ends are checked by :meth:`Roster.expire` when the caller says.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from server.errors import NotFound

ShiftRole = Literal["guard", "supervisor"]
ALL_ZONES = "*"


@dataclass(frozen=True, slots=True)
class Shift:
    user: str
    role: ShiftRole
    zones: tuple[str, ...]
    started: float
    by: str
    ends: float | None = None  # planned end (real epoch s), None: until ended

    def covers(self, zone: str | None) -> bool:
        return ALL_ZONES in self.zones or (zone is not None and zone in self.zones)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "zones": list(self.zones)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Shift:
        return cls(user=data["user"], role=data["role"], zones=tuple(data["zones"]),
                   started=data["started"], by=data["by"], ends=data.get("ends"))


class Roster:
    def __init__(self, shifts: Iterable[Shift] = ()) -> None:
        self._shifts: dict[str, Shift] = {s.user: s for s in shifts}

    def start(self, user: str, role: ShiftRole, zones: Iterable[str], *, by: str, now: float,
              ends: float | None = None) -> Shift:
        """Put a user on shift (or replace their shift's zones and end)."""
        shift = Shift(user, role, tuple(dict.fromkeys(zones)), now, by, ends)
        old = self._shifts.get(user)
        if old is not None and old.role == role:
            shift = Shift(user, role, shift.zones, old.started, by, ends)
        self._shifts[user] = shift
        return shift

    def end(self, user: str) -> Shift:
        shift = self._shifts.pop(user, None)
        if shift is None:
            raise NotFound(f"{user} is not on shift")
        return shift

    def expire(self, now: float) -> list[Shift]:
        done = [s for s in self._shifts.values() if s.ends is not None and s.ends <= now]
        for s in done:
            del self._shifts[s.user]
        return done

    def next_due(self) -> float | None:
        return min((s.ends for s in self._shifts.values() if s.ends is not None), default=None)

    def get(self, user: str) -> Shift | None:
        return self._shifts.get(user)

    def shifts(self) -> list[Shift]:
        return sorted(self._shifts.values(), key=lambda s: (s.role, s.user))

    def zone_guards(self, zone: str | None) -> list[str]:
        return sorted(s.user for s in self._shifts.values()
                      if s.role == "guard" and s.covers(zone))

    def guards(self) -> list[str]:
        return sorted(s.user for s in self._shifts.values() if s.role == "guard")

    def supervisors(self) -> list[str]:
        return sorted(s.user for s in self._shifts.values() if s.role == "supervisor")
