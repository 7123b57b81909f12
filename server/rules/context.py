"""What rules read: the twin, plus lookups precomputed once per site.

A RuleContext lives for one evaluation; it works out once which zones hold people in
custody (and who is with them), so the custody rules, which all start from that question,
pay for it once and skip empty rooms.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from protocol.site import SiteConfig
from protocol.timing import to_real
from server.twin import DeviceState, PersonState, Twin, ZoneState

RECORDER_PROFILE = "recorder"


@dataclass(frozen=True, slots=True)
class SiteIndex:
    """Facts about the site that never change while the server runs."""

    zone_kind: Mapping[str, str]
    zone_name: Mapping[str, tuple[str, str]]  # zone id -> (zh, en)
    recorder_of: Mapping[str, str]  # zone id -> recorder device id (zones that have one)
    devices_of_profile: Mapping[str, tuple[str, ...]] = field(
        default_factory=dict)  # profile -> device ids
    capacity: Mapping[str, int] = field(
        default_factory=dict)  # zone id -> capacity (zones that declare one)

    @classmethod
    def build(cls, site: SiteConfig) -> SiteIndex:
        recorders: dict[str, str] = {}
        by_profile: dict[str, list[str]] = {}
        for d in site.devices():
            if d.profile == RECORDER_PROFILE:
                recorders.setdefault(d.zone, d.id)
            by_profile.setdefault(d.profile, []).append(d.id)
        return cls(
            zone_kind={z.id: z.kind for z in site.zones},
            zone_name={z.id: (z.name.zh, z.name.en) for z in site.zones},
            recorder_of=recorders,
            devices_of_profile={p: tuple(ids) for p, ids in by_profile.items()},
            capacity={z.id: z.capacity for z in site.zones if z.capacity is not None},
        )


@dataclass(frozen=True, slots=True)
class HeldZone:
    """A zone holding at least one person in custody, as of this evaluation."""

    id: str
    kind: str
    custody: tuple[PersonState, ...]  # sorted by id: stable subjects and messages
    staffed: bool  # an officer or guard is present
    staff: tuple[PersonState, ...] = ()  # officers and guards, sorted by id
    others: tuple[PersonState, ...] = ()  # everyone else (guardians, lawyers, the released)

    @property
    def custody_ids(self) -> list[str]:
        return [p.id for p in self.custody]


@dataclass(slots=True)
class RuleContext:
    """One evaluation's view.  ``zones`` are the zones zone-scoped rules must look at:
    every zone today; only the changed ones once evaluation is incremental.

    ``speed`` turns site seconds (custody limits, spans) into real ones; ``params`` are
    every rule's resolved parameters (a rule reading another's, e.g. the custody warning
    reading the limits of custody_time_exceeded).  Time-driven rules call ``wake_at`` with
    the next instant their answer changes without any message, and the engine folds it
    into ``Evaluation.next_due``.  ``memo`` outlives the evaluation (the engine keeps it):
    for results that depend on slowly changing state only, keyed so that a change of that
    state misses (e.g. a person's timeline length).
    """

    twin: Twin
    site: SiteIndex
    started_at: float  # the engine's first evaluation (start-up graces count from here)
    zones: Sequence[ZoneState]
    _held: list[HeldZone] | None = field(default=None)
    speed: float = 1.0
    params: Mapping[str, Any] = field(default_factory=dict)
    wake: float | None = None
    memo: dict[Any, Any] = field(default_factory=dict)
    _custody: list[PersonState] | None = field(default=None)

    def kind(self, zone_id: str | None) -> str | None:
        return self.site.zone_kind.get(zone_id) if zone_id is not None else None

    def names(self, zone_id: str) -> tuple[str, str]:
        return self.site.zone_name.get(zone_id, (zone_id, zone_id))

    def real(self, site_seconds: float) -> float:
        return to_real(site_seconds, self.speed)

    def wake_at(self, when: float) -> None:
        if self.wake is None or when < self.wake:
            self.wake = when

    def held(self) -> list[HeldZone]:
        """The zones among ``zones`` holding people in custody (computed once)."""
        if self._held is None:
            people = self.twin.people
            held = []
            for zone in self.zones:
                occupants = zone.occupants
                if not occupants:
                    continue
                present = [people[p] for p in occupants if p in people]
                if not any(p.in_custody for p in present):
                    continue
                present.sort(key=_by_id)
                custody = tuple(p for p in present if p.in_custody)
                staff = tuple(p for p in present if p.is_staff)
                others = tuple(p for p in present if not p.in_custody and not p.is_staff)
                held.append(HeldZone(zone.id, zone.kind, custody, staffed=bool(staff),
                                     staff=staff, others=others))
            self._held = held
        return self._held

    def in_custody(self) -> list[PersonState]:
        """Everyone in custody, wherever they are (computed once), sorted by id."""
        if self._custody is None:
            self._custody = sorted((p for p in self.twin.people.values() if p.in_custody),
                                   key=_by_id)
        return self._custody

    def recorder(self, zone_id: str) -> DeviceState | None:
        device_id = self.site.recorder_of.get(zone_id)
        return self.twin.devices.get(device_id) if device_id is not None else None

    def devices(self, profile: str) -> list[DeviceState]:
        devices = self.twin.devices
        return [devices[d] for d in self.site.devices_of_profile.get(profile, ())
                if d in devices]

    def threshold(self, device: DeviceState, name: str) -> float | None:
        key = ("threshold", device.profile, name)  # profiles do not change while running
        if key not in self.memo:
            profile = self.twin.profiles.get(device.profile)
            self.memo[key] = profile.thresholds.get(name) if profile is not None else None
        value: float | None = self.memo[key]
        return value


def _by_id(person: PersonState) -> str:
    return person.id
