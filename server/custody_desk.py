"""Custody operations of the duty desk: intake, release, transfer, approved outings,
wristband checks, staff badges.  Each is one operator change through the coordinator's
single path (twin → rules → alarms → store + hub, server/service.py ``change``) with its
audit entry in the same transaction; each refuses before changing anything (NotFound,
Conflict), so a refused request leaves no trace but its HTTP answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from server.api.views import iso
from server.errors import Conflict, NotFound
from server.store.records import AuditEntry
from server.twin import Changes, PersonState, Twin

if TYPE_CHECKING:
    from server.service import Coordinator

log = logging.getLogger(__name__)


class CustodyDesk:
    def __init__(self, coord: Coordinator) -> None:
        self.coord = coord

    @property
    def twin(self) -> Twin:
        return self.coord.twin

    async def _apply(self, mutate: Callable[[float], Changes], user: str, action: str,
                     detail: dict[str, Any]) -> None:
        """One operator change and its audit entry (``mutate`` may complete ``detail``)."""
        await self.coord.change(mutate, AuditEntry(0, user, action, detail))

    def _check_tag(self, person: PersonState, tag: str | None = None) -> None:
        """409 unless the tag is free, already the person's, or a released person's
        wristband being re-issued (claimed by ``_claim_tag``)."""
        tag = tag if tag is not None else person.tag
        holder_id = self.twin.tags.get(tag) if tag else None
        if holder_id is None or holder_id == person.id:
            return
        holder = self.twin.people.get(holder_id)
        if holder is None or holder.in_custody or holder.role != "suspect":
            raise Conflict(f"tag {tag} is in use by {holder_id}")

    def _claim_tag(self, tag: str | None, person_id: str, now: float) -> Changes:
        holder = self.twin.tags.get(tag) if tag else None
        if tag is None or holder is None or holder == person_id:
            return Changes()
        log.info("tag %s re-issued: %s -> %s", tag, holder, person_id)
        return self.twin.unbind_tag(tag, now)

    async def register_staff(self, person: PersonState, user: str) -> PersonState:
        def mutate(now: float) -> Changes:
            old = self.twin.people.get(person.id)
            if old is not None and old.in_custody:
                raise Conflict(f"{person.id} is in custody")
            self._check_tag(person)
            changes = self._claim_tag(person.tag, person.id, now)
            return changes.merge(self.twin.register(person, now))
        await self._apply(mutate, user, "person_registered",
                          {"person": person.id, "role": person.role, "tag": person.tag})
        return self.twin.people[person.id]

    async def intake(self, person: PersonState, user: str,
                     custody_start: float | None = None) -> PersonState:
        """Custody starts (now, or at ``custody_start`` if the person arrived earlier)."""
        detail: dict[str, Any] = {"person": person.id, "custody": person.custody_basis,
                                  "case": person.case, "tag": person.tag,
                                  "juvenile": person.is_juvenile}

        def mutate(now: float) -> Changes:
            old = self.twin.people.get(person.id)
            if old is not None and old.in_custody:
                raise Conflict(f"{person.id} is already in custody")
            if old is not None and old.role != "suspect":
                raise Conflict(f"{person.id} is registered as {old.role}; a person in "
                               f"custody needs an id of their own")
            self._check_tag(person)
            if old is not None and old.custody_start is not None:
                person.past_custody = [*old.past_custody, _custody_summary(old)]
            start = min(custody_start, now) if custody_start is not None else now
            person.in_custody, person.custody_start, person.released_at = True, start, None
            detail["custody_start"] = start
            changes = self._claim_tag(person.tag, person.id, now)
            return changes.merge(self.twin.register(person, now))
        await self._apply(mutate, user, "custody_intake", detail)
        return self.twin.people[person.id]

    def _custody_person(self, person_id: str) -> PersonState:
        person = self.twin.people.get(person_id)
        if person is None:
            raise NotFound(f"no person {person_id!r}")
        if not person.in_custody:
            raise Conflict(f"{person_id} is not in custody")
        return person

    def _person(self, person_id: str) -> PersonState:
        person = self.twin.people.get(person_id)
        if person is None:
            raise NotFound(f"no person {person_id!r}")
        return person

    async def release(self, person_id: str, user: str, reason: str = "") -> PersonState:
        def mutate(now: float) -> Changes:
            self._custody_person(person_id)
            return self.twin.release(person_id, now, reason=reason)
        await self._apply(mutate, user, "custody_release",
                          {"person": person_id, "reason": reason})
        return self.twin.people[person_id]

    async def transfer(self, person_id: str, to: str, reason: str, user: str) -> PersonState:
        """Custody here ends by a handover (detention house, another unit): like a release
        for the rules (the person may leave), recorded as a transfer."""
        def mutate(now: float) -> Changes:
            self._custody_person(person_id)
            return self.twin.release(person_id, now, kind="transfer", reason=reason, to=to)
        await self._apply(mutate, user, "custody_transfer",
                          {"person": person_id, "to": to, "reason": reason})
        return self.twin.people[person_id]

    async def start_outing(self, person_id: str, minutes: float, reason: str,
                           user: str) -> PersonState:
        """An approved outing of ``minutes`` site minutes: leaving through the exit is
        allowed until it ends (unauthorized_exit, docs/rules.md)."""
        detail: dict[str, Any] = {"person": person_id, "minutes": minutes, "reason": reason}

        def mutate(now: float) -> Changes:
            person = self._custody_person(person_id)
            if person.outing_until is not None and person.outing_until > now:
                raise Conflict(f"{person_id} is already on an outing")
            until = now + minutes * 60 / self.coord.speed
            detail["until"] = until
            return self.twin.start_outing(person_id, until, reason, now)
        await self._apply(mutate, user, "outing_approved", detail)
        return self.twin.people[person_id]

    async def end_outing(self, person_id: str, user: str) -> PersonState:
        def mutate(now: float) -> Changes:
            person = self._custody_person(person_id)
            if person.outing_until is None:
                raise Conflict(f"{person_id} is not on an outing")
            return self.twin.end_outing(person_id, now)
        await self._apply(mutate, user, "outing_ended", {"person": person_id})
        return self.twin.people[person_id]

    async def tag_check(self, person_id: str, user: str, *, tamper: bool = True,
                        battery: bool = True, new_tag: str | None = None) -> PersonState:
        """An operator checked (or replaced) a wristband or badge: the tamper and/or
        low-battery flags clear; ``new_tag`` binds a replacement."""
        detail: dict[str, Any] = {"person": person_id, "tamper": tamper, "battery": battery,
                                  "new_tag": new_tag}

        def mutate(now: float) -> Changes:
            person = self._person(person_id)
            detail["old_tag"] = person.tag
            changes = Changes()
            if new_tag is not None and new_tag != person.tag:
                self._check_tag(person, new_tag)
                changes.merge(self._claim_tag(new_tag, person_id, now))
                changes.merge(self.twin.bind_tag(person_id, new_tag, now))
            return changes.merge(self.twin.clear_tag_alerts(person_id, now, tamper=tamper,
                                                            battery=battery))
        await self._apply(mutate, user, "tag_checked", detail)
        return self.twin.people[person_id]

    async def checkout(self, person_id: str, user: str) -> PersonState:
        """A visitor, lawyer or guardian leaves and hands the badge back (the badge can be
        issued again); people in custody leave by release or transfer."""
        detail: dict[str, Any] = {"person": person_id}

        def mutate(now: float) -> Changes:
            person = self._person(person_id)
            if person.role == "suspect":
                raise Conflict(f"{person_id} is a person in custody: release or transfer")
            detail["tag"] = person.tag
            if person.tag is None:
                return Changes(people={person_id})
            return self.twin.unbind_tag(person.tag, now).merge(Changes(people={person_id}))
        await self._apply(mutate, user, "badge_returned", detail)
        return self.twin.people[person_id]

    async def search(self, person_id: str, user: str) -> PersonState:
        def mutate(now: float) -> Changes:
            self._custody_person(person_id)
            return self.twin.mark_searched(person_id, now)
        await self._apply(mutate, user, "search_completed", {"person": person_id, "by": "api"})
        return self.twin.people[person_id]

    async def person_actions(self, person_id: str) -> list[dict[str, Any]]:
        """Every audited action about the person (their file's log), oldest first."""
        entries = await self.coord.store.audit_entries(person=person_id)
        return [{"at": iso(e.ts), "user": e.user, "action": e.action,
                 "detail": {k: v for k, v in e.detail.items() if k != "person"}}
                for e in entries]


def _custody_summary(p: PersonState) -> dict[str, Any]:
    """An earlier custody of a person taken in again (kept in their file)."""
    return {"start": p.custody_start, "end": p.released_at, "basis": p.custody_basis,
            "case": p.case, "ended_by": p.release_kind, "transferred_to": p.transferred_to,
            "outings": len(p.outings), "lockers": [b.get("locker") for b in p.belongings]}
