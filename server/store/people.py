"""People stored before a restart, put back into the twin."""

from __future__ import annotations

from server.twin import PersonState, Twin


def restore_people(twin: Twin, people: list[PersonState], now: float) -> None:
    """Put people stored before a restart back into the twin, in their last known zone
    (readers only report changes, so occupancy would otherwise be lost)."""
    for person in people:
        zone = person.zone if person.zone in twin.zones else None
        person.zone = None
        twin.register(person, now)
        if zone is not None:
            person.zone = zone
            twin.zones[zone].occupants.add(person.id)
