"""The twin's people: staff badges and custody intakes, tags, outings, searches, and where
everyone is (Twin's people half; server/twin.py).

A person's zone comes from the tag readers (twin_messages.py calls ``_move``); everything
else here is the custody desk's and the API's doing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from server.twin_state import Changes, PersonState, ZoneState


class PeopleOps:
    """Operations on people; the state itself is declared and built by Twin."""

    zones: dict[str, ZoneState]
    people: dict[str, PersonState]
    tags: dict[str, str]  # tag id -> person id
    unknown_tags: dict[str, str]  # tag id -> zone last seen

    def register(self, person: PersonState, now: float) -> Changes:
        """Add or replace a person (staff badge or custody intake); binds their tag."""
        old = self.people.get(person.id)
        if old is not None:
            person.zone, person.zone_since, person.timeline = old.zone, old.zone_since, old.timeline
            if old.tag and old.tag != person.tag:
                self.tags.pop(old.tag, None)
        self.people[person.id] = person
        changes = Changes(people={person.id})
        if person.tag:
            self.tags[person.tag] = person.id
            pending_zone = self.unknown_tags.pop(person.tag, None)
            if pending_zone and person.zone is None:
                changes.merge(self._move(person, pending_zone, now))
        changes.zones |= self.whereabouts(person)
        return changes

    def release(self, person_id: str, now: float, *,
                kind: Literal["release", "transfer"] = "release", reason: str = "",
                to: str | None = None) -> Changes:
        """End custody: a release, or a transfer (to a detention house, another unit),
        which ends custody here the same way but is recorded as such."""
        person = self.people[person_id]
        if person.outing_until is not None:
            self.end_outing(person_id, now)
        person.in_custody = False
        person.released_at = now
        person.release_kind, person.release_reason, person.transferred_to = kind, reason, to
        return Changes(people={person_id}, zones=self.whereabouts(person))

    def approve_outing(self, person_id: str, until: float | None, now: float) -> Changes:
        """Allow a person in custody out of the area until ``until`` (None ends the outing)."""
        person = self.people[person_id]
        person.outing_until = until
        return Changes(people={person_id}, zones=self.whereabouts(person))

    def start_outing(self, person_id: str, until: float, reason: str, now: float) -> Changes:
        """An approved outing (hospital, scene visit) until ``until``, kept in the file."""
        person = self.people[person_id]
        person.outing_started_at, person.outing_reason = now, reason
        person.outings.append({"start": now, "until": until, "ended": None, "reason": reason})
        return self.approve_outing(person_id, until, now)

    def end_outing(self, person_id: str, now: float) -> Changes:
        """The outing is over (the person is back, or it is called off)."""
        person = self.people[person_id]
        if person.outings and person.outings[-1].get("ended") is None:
            person.outings[-1]["ended"] = min(now, person.outing_until or now)
        person.outing_started_at, person.outing_reason = None, ""
        return self.approve_outing(person_id, None, now)

    def bind_tag(self, person_id: str, tag: str, now: float) -> Changes:
        """Give a person a new wristband or badge (the old one is unbound)."""
        person = self.people[person_id]
        if person.tag is not None and self.tags.get(person.tag) == person_id:
            del self.tags[person.tag]
        person.tag = tag
        self.tags[tag] = person_id
        changes = Changes(people={person_id})
        pending_zone = self.unknown_tags.pop(tag, None)
        if pending_zone is not None:
            changes.merge(self._move(person, pending_zone, now))
        return changes

    def unbind_tag(self, tag: str, now: float) -> Changes:
        """A tag handed back (a released person's wristband re-issued): its former holder is
        no longer located by it, so they leave their zone."""
        holder = self.tags.pop(tag, None)
        if holder is None or holder not in self.people:
            return Changes()
        person = self.people[holder]
        person.tag = None
        return self._move(person, None, now)

    def clear_tag_alerts(self, person_id: str, now: float, *, tamper: bool = True,
                         battery: bool = True) -> Changes:
        """An operator's acknowledgement that a wristband was checked (or replaced)."""
        person = self.people[person_id]
        if tamper:
            person.tag_tampered, person.tag_tampered_at, person.tag_tamper_zone = False, None, None
        if battery:
            person.tag_battery_low, person.tag_battery_low_at = False, None
            person.tag_battery_level = None
        return Changes(people={person_id}, zones=self.whereabouts(person))

    def mark_searched(self, person_id: str, now: float) -> Changes:
        person = self.people[person_id]
        person.searched, person.searched_at = True, now
        return Changes(people={person_id}, zones=self.whereabouts(person))

    @staticmethod
    def whereabouts(person: PersonState) -> set[str]:
        """The zones to report with a change to this person: the zone they are in or, in
        no zone (walking between two readers), the zone they were last seen in, where a
        rule may keep a condition about them while they are in transit (RuleSpec
        .hold_in_transit)."""
        if person.zone is not None:
            return {person.zone}
        if person.timeline:
            return {person.timeline[-1][0]}
        return set()

    def _move(self, person: PersonState, zone: str | None, now: float,
              changes: Changes | None = None) -> Changes:
        """Put the person in ``zone`` (None: in no zone, between two readers); what changed
        is added to ``changes`` if given, else to a new Changes, and returned."""
        if changes is None:
            changes = Changes()
        changes.people.add(person.id)
        if person.zone == zone:
            return changes
        if person.zone is None:
            changes.zones |= self.whereabouts(person)  # back from transit
        else:
            self.zones[person.zone].occupants.discard(person.id)
            changes.zones.add(person.zone)
            if person.timeline and person.timeline[-1][2] is None:
                z, since, _ = person.timeline[-1]
                person.timeline[-1] = (z, since, now)
        person.zone, person.zone_since = zone, now
        if zone is not None:
            self.zones[zone].occupants.add(person.id)
            changes.zones.add(zone)
            person.timeline.append((zone, now, None))
        return changes

    def occupants(self, zone_id: str) -> Iterable[PersonState]:
        return (self.people[p] for p in self.zones[zone_id].occupants)
