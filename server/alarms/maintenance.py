"""Suppression by design: devices and zones a technician has put in maintenance.

ISA-18.2 / IEC 62682 §4 "suppressed by design": while equipment is out of service its
alarms are not announced, but they are still evaluated, stored and logged (the alarm book
keeps them, flagged ``suppressed_by``), so the supervisor sees what happened meanwhile.

What is suppressed:

* a device in maintenance: the alarms *about* that device (its subject), e.g. a camera
  being replaced does not page the guards with ``device_offline``;
* a zone in maintenance: the alarms about the zone itself and about any device in it.

Never suppressed: alarms about a *person* (custody safety is not a device's health —
四个一律 applies whatever the technician is doing) and the rules in ``never_suppress``
(a panic button pressed or smoke in a room under maintenance is still an emergency).

Pure: no clock of its own; the entries hold who, why and since when.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from server.errors import NotFound

Target = Literal["device", "zone"]


@dataclass(frozen=True, slots=True)
class MaintenanceEntry:
    kind: Target
    target: str  # device or zone id
    by: str
    reason: str
    since: float
    until: float | None = None  # optional planned end (real epoch s); None: until lifted

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.target}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MaintenanceEntry:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


class Maintenance:
    def __init__(self, device_zone: Mapping[str, str], zones: Iterable[str],
                 never_suppress: Iterable[str] = (),
                 entries: Iterable[MaintenanceEntry] = ()) -> None:
        """``device_zone``: every device id of the site → its zone."""
        self.device_zone = dict(device_zone)
        self.zones = frozenset(zones)
        self.never_suppress = frozenset(never_suppress)
        self._entries: dict[str, MaintenanceEntry] = {e.key: e for e in entries}

    def check_target(self, kind: str, target: str) -> None:
        known = self.device_zone if kind == "device" else self.zones
        if kind not in ("device", "zone") or target not in known:
            raise NotFound(f"no {kind} {target!r}")

    def start(self, kind: Target, target: str, *, by: str, reason: str, now: float,
              until: float | None = None) -> MaintenanceEntry:
        self.check_target(kind, target)
        entry = MaintenanceEntry(kind, target, by, reason, now, until)
        self._entries[entry.key] = entry
        return entry

    def end(self, kind: Target, target: str) -> MaintenanceEntry:
        self.check_target(kind, target)
        entry = self._entries.pop(f"{kind}:{target}", None)
        if entry is None:
            raise NotFound(f"{kind} {target} is not in maintenance")
        return entry

    def expire(self, now: float) -> list[MaintenanceEntry]:
        """Lift maintenance whose planned end has passed."""
        done = [e for e in self._entries.values() if e.until is not None and e.until <= now]
        for e in done:
            del self._entries[e.key]
        return done

    def next_due(self) -> float | None:
        return min((e.until for e in self._entries.values() if e.until is not None),
                   default=None)

    def device_in_maintenance(self, device: str) -> bool:
        zone = self.device_zone.get(device)
        return (f"device:{device}" in self._entries
                or (zone is not None and f"zone:{zone}" in self._entries))

    def suppression(self, rule: str, subject: str, zone: str | None) -> str | None:
        """Why an alarm of (rule, subject) in ``zone`` is suppressed, or None."""
        if not self._entries or rule in self.never_suppress:
            return None
        if f"device:{subject}" in self._entries:
            return f"device:{subject}"
        device_zone = self.device_zone.get(subject)
        if device_zone is not None and f"zone:{device_zone}" in self._entries:
            return f"zone:{device_zone}"
        if subject in self.zones and f"zone:{subject}" in self._entries:
            return f"zone:{subject}"
        return None

    def entries(self) -> list[MaintenanceEntry]:
        return sorted(self._entries.values(), key=lambda e: e.key)
