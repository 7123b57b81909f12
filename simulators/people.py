"""People moving through a simulated centre: tags seen by zone readers, doors on the way.

A person's tag is ``wb-<person>`` (wristband) in custody and ``badge-<person>`` for everyone
else (CONTRACT.md); the server maps tags to the people registered through its API.
"""

from __future__ import annotations

import asyncio
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
        """Everyone leaves their zone's reader and enters ``zone``'s (None: leaves the site),
        at once.  See :meth:`walk` for the order."""
        custody, escort = self._start(people, zone)
        self._custody_out(custody)
        self._escort_over(escort, zone)
        self._custody_in(custody, zone)

    async def walk(self, people: list[str], zone: str | None, gap_s: float = 0.0) -> None:
        """Move a group as it walks in reality: the people in custody step out of their
        room first (between readers for a moment), the escort reaches the new room, then
        the people in custody follow.  So nobody in custody is ever alone in either room,
        whatever order the two rooms' nodes deliver their reports in — provided the old
        room's reports leave before the new room's: ``gap_s`` (real seconds) gives its node
        that head start.  Doors of the rooms left and entered open and close once."""
        custody, escort = self._start(people, zone)
        self._custody_out(custody)
        if custody and escort and gap_s > 0:
            await asyncio.sleep(gap_s)
        self._escort_over(escort, zone)
        self._custody_in(custody, zone)

    def _start(self, people: list[str], zone: str | None) -> tuple[list[str], list[str]]:
        """Check the people, pass the doors; (people in custody, escort) who really move."""
        for person in people:
            if person not in self.roles:
                raise SimulatorError(f"unknown person {person!r}")
        movers = [p for p in dict.fromkeys(people) if self.zones[p] != zone]
        doors: set[str] = set()
        for person in movers:
            for z in (self.zones[person], zone):
                if z is not None and isinstance(self.centre.device_in("door", z), SimulatedDoor):
                    doors.add(z)
        for z in sorted(doors):
            door = self.centre.device_in("door", z)
            assert isinstance(door, SimulatedDoor)
            door.pass_through()
        return ([p for p in movers if self.roles[p] == "suspect"],
                [p for p in movers if self.roles[p] != "suspect"])

    def _custody_out(self, custody: list[str]) -> None:
        for person in custody:
            self._leave(person)

    def _escort_over(self, escort: list[str], zone: str | None) -> None:
        for person in escort:
            self._leave(person)
            self._enter(person, zone)

    def _custody_in(self, custody: list[str], zone: str | None) -> None:
        for person in custody:
            self._enter(person, zone)

    def _leave(self, person: str) -> None:
        before = self.zones[person]
        if before is not None:
            self._reader(before).leave(self.tag(person))
            self.zones[person] = None

    def _enter(self, person: str, zone: str | None) -> None:
        if zone is not None:
            self._reader(zone).enter(self.tag(person))
        self.zones[person] = zone
        log.debug("%s -> %s", person, zone)
