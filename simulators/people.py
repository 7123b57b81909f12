"""People moving through a simulated centre: tags seen by zone readers, doors on the way.

A person's tag is ``wb-<person>`` (wristband) in custody and ``badge-<person>`` for everyone
else (CONTRACT.md); the server maps tags to the people registered through its API.
"""

from __future__ import annotations

import logging

from edge.drivers.simulated import SimulatedDoor, SimulatedReader
from simulators.centre import SimulatedCentre
from simulators.errors import SimulatorError

log = logging.getLogger(__name__)


def tag_of(person: str, role: str) -> str:
    return f"wb-{person}" if role == "suspect" else f"badge-{person}"


class Crowd:
    """Who is where, as the readers see it; moves people by driving the simulated readers."""

    def __init__(self, centre: SimulatedCentre) -> None:
        self.centre = centre
        self.roles: dict[str, str] = {}
        self.zones: dict[str, str | None] = {}

    def add(self, person: str, role: str) -> None:
        self.roles[person] = role
        self.zones.setdefault(person, None)

    def zone_of(self, person: str) -> str | None:
        return self.zones.get(person)

    def in_zone(self, zone: str) -> list[str]:
        return [p for p, z in self.zones.items() if z == zone]

    def tag(self, person: str) -> str:
        return tag_of(person, self.roles[person])

    def _reader(self, zone: str) -> SimulatedReader:
        reader = self.centre.device_in("reader", zone)
        if not isinstance(reader, SimulatedReader):
            raise SimulatorError(f"zone {zone} has no reader")
        return reader

    def move(self, people: list[str], zone: str | None) -> None:
        """Everyone leaves their zone's reader and enters ``zone``'s (None: leaves the site).

        Doors of the zones left and entered open and close once for the group."""
        doors: set[str] = set()
        for person in people:
            if person not in self.roles:
                raise SimulatorError(f"unknown person {person!r}")
            before = self.zones[person]
            if before == zone:
                continue
            for z in (before, zone):
                if z is not None and isinstance(self.centre.device_in("door", z), SimulatedDoor):
                    doors.add(z)
        for z in sorted(doors):
            door = self.centre.device_in("door", z)
            assert isinstance(door, SimulatedDoor)
            door.pass_through()
        for person in people:
            before = self.zones[person]
            if before == zone:
                continue
            tag = self.tag(person)
            if before is not None:
                self._reader(before).leave(tag)
            if zone is not None:
                self._reader(zone).enter(tag)
            self.zones[person] = zone
            log.debug("%s: %s -> %s", person, before, zone)
