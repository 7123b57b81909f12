"""What rules read: the twin, plus lookups precomputed once per site.

A RuleContext is the engine's view for one evaluation.  Its iterators (``held``, ``zones``,
``people``, ``in_custody``, ``devices``, ``nodes``) yield the *units* of the running rule's
scope (spec.py) that the engine asked for: every unit on a full evaluation, only the ones
that changed (or whose time came) on an incremental one.  While it yields a unit the
context remembers it (``unit``), so the engine knows which unit each condition, wake-up
and volatile mark belongs to: a rule yields a unit's conditions while it iterates that
unit, never after the loop.

Outside its own scope an iterator yields everything (a person rule reading the locker
banks sees all of them) and does not touch ``unit``.  Lookups (``recorder``,
``zone_devices``, ``threshold``, ``names``) never restrict and never change ``unit``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from protocol.site import SiteConfig
from protocol.timing import to_real
from server.rules.types import SITE_UNIT, Scope
from server.twin import STAFF_ROLES, DeviceState, NodeState, PersonState, Twin, ZoneState

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
    devices_in_zone: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    devices_of_node: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    device_profile: Mapping[str, str] = field(default_factory=dict)
    # Site order (the order a full evaluation visits them): incremental evaluations visit
    # changed units in the same order, so equal inputs give equal, equally ordered output.
    zone_rank: Mapping[str, int] = field(default_factory=dict)
    device_rank: Mapping[str, int] = field(default_factory=dict)
    node_rank: Mapping[str, int] = field(default_factory=dict)
    zone_profiles: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # (zone id, profile) -> the ids of the zone's devices of that profile, in site order.
    devices_in_zone_of: Mapping[tuple[str, str], tuple[str, ...]] = field(
        default_factory=dict)

    @classmethod
    def build(cls, site: SiteConfig) -> SiteIndex:
        recorders: dict[str, str] = {}
        by_profile: dict[str, list[str]] = {}
        by_zone: dict[str, list[str]] = {z.id: [] for z in site.zones}
        by_node: dict[str, list[str]] = {n.id: [] for n in site.nodes}
        by_zone_profile: dict[tuple[str, str], list[str]] = {}
        devices = site.devices()
        for d in devices:
            if d.profile == RECORDER_PROFILE:
                recorders.setdefault(d.zone, d.id)
            by_profile.setdefault(d.profile, []).append(d.id)
            by_zone.setdefault(d.zone, []).append(d.id)
            by_node.setdefault(d.node, []).append(d.id)
            by_zone_profile.setdefault((d.zone, d.profile), []).append(d.id)
        return cls(
            zone_kind={z.id: z.kind for z in site.zones},
            zone_name={z.id: (z.name.zh, z.name.en) for z in site.zones},
            recorder_of=recorders,
            devices_of_profile={p: tuple(ids) for p, ids in by_profile.items()},
            capacity={z.id: z.capacity for z in site.zones if z.capacity is not None},
            devices_in_zone={z: tuple(ids) for z, ids in by_zone.items()},
            devices_of_node={n: tuple(ids) for n, ids in by_node.items()},
            device_profile={d.id: d.profile for d in devices},
            zone_rank={z.id: i for i, z in enumerate(site.zones)},
            device_rank={d.id: i for i, d in enumerate(devices)},
            node_rank={n.id: i for i, n in enumerate(site.nodes)},
            zone_profiles={z.id: frozenset(z.devices) for z in site.zones},
            devices_in_zone_of={k: tuple(ids) for k, ids in by_zone_profile.items()},
        )


class HeldZone(NamedTuple):
    """A zone holding at least one person in custody, as of this evaluation (a tuple: built
    for every changed zone on every evaluation, so it must be cheap)."""

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
    """The engine's view of the twin for one evaluation.

    ``zone_ids``, ``person_ids``, ``device_ids`` and ``node_ids`` are the units to visit
    (in site order; None = all of them); ``scope`` is the running rule's.  ``speed`` turns
    site seconds (custody limits, spans) into real ones; ``params`` are every rule's
    resolved parameters (a rule reading another's, e.g. the custody warning reading the
    limits of custody_time_exceeded).  ``memo`` outlives the evaluation (the engine keeps
    it): for results that depend on slowly changing state only, keyed so that a change of
    that state misses (e.g. a person's timeline length).

    Time: a rule calls ``wake_at`` with the next instant its answer for the current unit
    changes without any message, and ``volatile`` when the answer (a message counting
    down) changes continuously; the engine re-runs the unit then (or on every evaluation).
    """

    twin: Twin
    site: SiteIndex
    started_at: float  # the engine's first evaluation (start-up graces count from here)
    speed: float = 1.0
    params: Mapping[str, Any] = field(default_factory=dict)
    memo: dict[Any, Any] = field(default_factory=dict)
    now: float = 0.0
    zone_ids: Sequence[str] | None = None
    person_ids: Sequence[str] | None = None
    device_ids: Sequence[str] | None = None
    node_ids: Sequence[str] | None = None
    scope: Scope = "site"
    unit: str = SITE_UNIT
    wakes: dict[str, float] = field(default_factory=dict)  # unit -> earliest wake-up
    volatile_units: set[str] = field(default_factory=set)
    _held: list[HeldZone] | None = None  # for zone_ids
    _held_ids: set[str] | None = None  # their ids (worked out with them, by held_ids)
    _held_all: list[HeldZone] | None = None  # for every zone (rules of other scopes)

    def held_cache_clear(self) -> None:
        """A new evaluation: the twin may have changed."""
        self._held = self._held_ids = self._held_all = None

    def held_cache_swap(self, held: tuple[list[HeldZone] | None, set[str] | None]
                        ) -> tuple[list[HeldZone] | None, set[str] | None]:
        """Replace the held zones worked out for ``zone_ids`` (the engine, around a rule
        that must see every zone); returns the previous ones."""
        previous = self._held, self._held_ids
        self._held, self._held_ids = held
        return previous

    # ------------------------------------------------------------------ time

    def real(self, site_seconds: float) -> float:
        return to_real(site_seconds, self.speed)

    def wake_at(self, when: float) -> None:
        if when > self.now:
            current = self.wakes.get(self.unit)
            if current is None or when < current:
                self.wakes[self.unit] = when
        else:  # already due (float rounding at a boundary): look again next time
            self.volatile_units.add(self.unit)

    def volatile(self) -> None:
        """The current unit's conditions depend on the clock itself (a countdown in a
        message): re-run it on every evaluation while it says so."""
        self.volatile_units.add(self.unit)

    # ------------------------------------------------------------------ lookups

    def kind(self, zone_id: str | None) -> str | None:
        return self.site.zone_kind.get(zone_id) if zone_id is not None else None

    def names(self, zone_id: str) -> tuple[str, str]:
        return self.site.zone_name.get(zone_id, (zone_id, zone_id))

    def recorder(self, zone_id: str) -> DeviceState | None:
        device_id = self.site.recorder_of.get(zone_id)
        return self.twin.devices.get(device_id) if device_id is not None else None

    def zone_devices(self, zone_id: str, profile: str | None = None) -> list[DeviceState]:
        """The devices located in a zone (optionally of one profile), in site order."""
        devices = self.twin.devices
        ids = self.site.devices_in_zone.get(zone_id, ()) if profile is None \
            else self.site.devices_in_zone_of.get((zone_id, profile), ())
        return [devices[d] for d in ids if d in devices]

    def threshold(self, device: DeviceState, name: str) -> float | None:
        key = ("threshold", device.profile, name)  # profiles do not change while running
        if key not in self.memo:
            profile = self.twin.profiles.get(device.profile)
            self.memo[key] = profile.thresholds.get(name) if profile is not None else None
        value: float | None = self.memo[key]
        return value

    # ------------------------------------------------------------------ units

    @property
    def zones(self) -> Iterator[ZoneState]:
        """The zones to look at (zone scope: the changed ones), in site order."""
        return self._zones()

    def _zones(self) -> Iterator[ZoneState]:
        zones = self.twin.zones
        if self.scope != "zone":
            yield from zones.values()
            return
        ids: Iterable[str] = self.zone_ids if self.zone_ids is not None else zones.keys()
        for zid in ids:
            zone = zones.get(zid)
            if zone is not None:
                self.unit = zid
                yield zone

    def held(self) -> Iterator[HeldZone]:
        """The zones to look at that hold people in custody (worked out once per
        evaluation: the custody rules all start from this question)."""
        if self.scope != "zone":
            if self._held_all is None:
                self._held_all = _held_zones(self.twin, self.twin.zones.values())
            yield from self._held_all
            return
        held = self._held
        if held is None:
            self.held_ids()
            held = self._held
            assert held is not None
        for zone in held:
            self.unit = zone.id
            yield zone

    def held_ids(self) -> set[str]:
        """The ids of the zones among ``zone_ids`` holding people in custody (the engine
        asks first, to skip custody rules; read it, do not modify it)."""
        if self._held_ids is None:
            # The HeldZones at once: the custody rules that asked next all read them.
            zones = self.twin.zones
            if self.zone_ids is None:
                self._held = _held_zones(self.twin, zones.values())
            else:
                self._held = _held_zones(self.twin, [zones[z] for z in self.zone_ids
                                                     if z in zones])
            self._held_ids = {zone.id for zone in self._held}
        return self._held_ids

    def people(self) -> Iterator[PersonState]:
        """Everyone to look at (person scope: the changed people), sorted by id."""
        people = self.twin.people
        ids = self.person_ids if self.scope == "person" and self.person_ids is not None \
            else sorted(people)
        track = self.scope == "person"
        for pid in ids:
            person = people.get(pid)
            if person is not None:
                if track:
                    self.unit = pid
                yield person

    def in_custody(self) -> Iterator[PersonState]:
        """Everyone in custody among ``people()``, sorted by id."""
        people = self.twin.people
        track = self.scope == "person"
        ids = self.person_ids if track and self.person_ids is not None else sorted(people)
        for pid in ids:  # people(), inlined: one generator fewer
            person = people.get(pid)
            if person is not None:
                if track:
                    self.unit = pid
                if person.in_custody:
                    yield person

    def devices(self, profile: str | None = None) -> Iterator[DeviceState]:
        """The devices to look at (optionally of one profile), in site order: device scope,
        the changed devices; zone scope, the devices located in the zones to look at."""
        devices, profiles = self.twin.devices, self.site.device_profile
        if self.scope == "zone":
            in_zone = self.site.devices_in_zone
            zone_ids = self.zone_ids if self.zone_ids is not None else self.twin.zones.keys()
            for zid in zone_ids:
                if profile is not None and profile not in self.site.zone_profiles.get(zid, ()):
                    continue
                for did in in_zone.get(zid, ()):
                    if (profile is None or profiles[did] == profile) and did in devices:
                        self.unit = zid
                        yield devices[did]
            return
        track = self.scope == "device"
        ids: Iterable[str]
        if track and self.device_ids is not None:
            ids = self.device_ids
        elif profile is not None:
            ids = self.site.devices_of_profile.get(profile, ())
        else:
            ids = devices.keys()
        for did in ids:
            if (profile is None or profiles.get(did) == profile) and did in devices:
                if track:
                    self.unit = did
                yield devices[did]

    def nodes(self) -> Iterator[NodeState]:
        """The nodes to look at (node scope: the changed ones), in site order."""
        nodes = self.twin.nodes
        track = self.scope == "node"
        ids = self.node_ids if track and self.node_ids is not None else nodes.keys()
        for nid in ids:
            node = nodes.get(nid)
            if node is not None:
                if track:
                    self.unit = nid
                yield node


def _held_zones(twin: Twin, zones: Iterable[ZoneState]) -> list[HeldZone]:
    """The HeldZone of each of ``zones`` that holds someone in custody; everyone in it
    sorted by id (a person's id is their key in twin.people)."""
    people = twin.people
    held = []
    for zone in zones:
        occupants = zone.occupants
        if not occupants:
            continue
        custody: list[PersonState] = []
        staff: list[PersonState] = []
        others: list[PersonState] = []
        for pid in sorted(occupants) if len(occupants) > 1 else occupants:
            p = people.get(pid)
            if p is None:
                continue
            if p.in_custody:
                custody.append(p)
                if p.role in STAFF_ROLES:
                    staff.append(p)
            elif p.role in STAFF_ROLES:
                staff.append(p)
            else:
                others.append(p)
        if custody:
            held.append(HeldZone(zone.id, zone.kind, tuple(custody), bool(staff), tuple(staff),
                                 tuple(others)))
    return held


