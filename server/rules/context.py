"""What rules read: the twin, plus lookups precomputed once per site.

A RuleContext lives for one evaluation; it works out once which zones hold people in
custody (and whether staff are with them), so the custody rules, which all start from
that question, pay for it once and skip empty rooms.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from protocol.site import SiteConfig
from server.twin import DeviceState, PersonState, Twin, ZoneState

RECORDER_PROFILE = "recorder"


@dataclass(frozen=True, slots=True)
class SiteIndex:
    """Facts about the site that never change while the server runs."""

    zone_kind: Mapping[str, str]
    zone_name: Mapping[str, tuple[str, str]]  # zone id -> (zh, en)
    recorder_of: Mapping[str, str]  # zone id -> recorder device id (zones that have one)

    @classmethod
    def build(cls, site: SiteConfig) -> SiteIndex:
        recorders: dict[str, str] = {}
        for d in site.devices():
            if d.profile == RECORDER_PROFILE:
                recorders.setdefault(d.zone, d.id)
        return cls(
            zone_kind={z.id: z.kind for z in site.zones},
            zone_name={z.id: (z.name.zh, z.name.en) for z in site.zones},
            recorder_of=recorders,
        )


@dataclass(frozen=True, slots=True)
class HeldZone:
    """A zone holding at least one person in custody, as of this evaluation."""

    id: str
    kind: str
    custody: tuple[PersonState, ...]  # sorted by id: stable subjects and messages
    staffed: bool  # an officer or guard is present

    @property
    def custody_ids(self) -> list[str]:
        return [p.id for p in self.custody]


@dataclass(slots=True)
class RuleContext:
    """One evaluation's view.  ``zones`` are the zones zone-scoped rules must look at:
    every zone today; only the changed ones once evaluation is incremental."""

    twin: Twin
    site: SiteIndex
    started_at: float  # the engine's first evaluation (start-up graces count from here)
    zones: Sequence[ZoneState]
    _held: list[HeldZone] | None = field(default=None)

    def kind(self, zone_id: str | None) -> str | None:
        return self.site.zone_kind.get(zone_id) if zone_id is not None else None

    def names(self, zone_id: str) -> tuple[str, str]:
        return self.site.zone_name.get(zone_id, (zone_id, zone_id))

    def held(self) -> list[HeldZone]:
        """The zones among ``zones`` holding people in custody (computed once)."""
        if self._held is None:
            people = self.twin.people
            held = []
            for zone in self.zones:
                if not zone.occupants:
                    continue
                present = [people[p] for p in zone.occupants if p in people]
                custody = tuple(sorted((p for p in present if p.in_custody),
                                       key=lambda p: p.id))
                if custody:
                    held.append(HeldZone(zone.id, zone.kind, custody,
                                         staffed=any(p.is_staff for p in present)))
            self._held = held
        return self._held

    def recorder(self, zone_id: str) -> DeviceState | None:
        device_id = self.site.recorder_of.get(zone_id)
        return self.twin.devices.get(device_id) if device_id is not None else None
