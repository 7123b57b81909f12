"""People and custody (docs/custody.md).

Staff and visitors: ``POST /api/people`` (badge), ``GET /api/people``, ``GET
/api/people/{id}`` (their file), ``POST /api/people/{id}/checkout`` (badge handed back),
``POST /api/people/{id}/tag-check``.

People in custody: ``POST /api/custody`` (intake), ``GET /api/custody`` (with clocks),
``GET /api/custody/{id}`` (the file: record, clock, timeline, belongings, outings,
actions), and ``POST /api/custody/{id}/`` ``release``, ``transfer``, ``outing``,
``outing/end``, ``tag-check``, ``search``.

Tags follow the convention of the preamble: a person in custody wears wristband
``wb-<person>``, staff wear badge ``badge-<person>`` unless the request names another.
Refusals: 422 for bad or contradictory data (pydantic's shape: ``detail[].loc`` names the
field), 404 for an unknown person, 409 for a state conflict (already in custody, tag in
use, not on an outing).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Path, status
from fastapi.encoders import jsonable_encoder
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from server.api.deps import coordinator
from server.api.views import custody_record_json, person_json
from server.auth import CAN_MANAGE_CUSTODY, Principal, current_user, require
from server.custody import intake_problems, site_today
from server.errors import Conflict, NotFound
from server.rules.params import DEFAULT_CUSTODY_LIMITS_S
from server.service import Coordinator
from server.twin import PersonState

router = APIRouter(prefix="/api", tags=["people and custody"])

ID = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
PersonId = Annotated[str, Field(pattern=ID, description="the person's id, e.g. S1 or O1")]
PathId = Annotated[str, Path(pattern=ID)]
TagId = Annotated[str, Field(pattern=ID)]
CustodyBasis = Literal[
    "criminal_summons", "criminal_summons_extended", "administrative_questioning",
    "administrative_questioning_extended", "continued_questioning",
    "continued_questioning_extended",
]
assert set(CustodyBasis.__args__) == set(DEFAULT_CUSTODY_LIMITS_S)  # type: ignore[attr-defined]
# A guard on the floor checks a wristband as well as the duty desk does.
CAN_CHECK_TAGS = CAN_MANAGE_CUSTODY | {"guard"}
MAX_OUTING_MINUTES = 72 * 60
Coord = Annotated[Coordinator, Depends(coordinator)]
Manager = Annotated[Principal, Depends(require(CAN_MANAGE_CUSTODY))]
Reader = Annotated[Principal, Depends(current_user)]


class StaffRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: PersonId
    role: Literal["officer", "guard", "guardian", "lawyer", "visitor"] = Field(
        description="people in custody are registered through POST /api/custody")
    sex: Literal["male", "female"]
    name: str = Field(default="", max_length=100)
    badge: TagId | None = None


class IntakeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    person: PersonId
    sex: Literal["male", "female"]
    age: int = Field(ge=0, le=130, description="under 18 makes the person a juvenile")
    case: str = Field(min_length=1, max_length=64, description="co-accused share a case")
    custody: CustodyBasis = Field(description="legal basis; sets the custody clock")
    name: str = Field(default="", max_length=100)
    wristband: TagId | None = None
    id_number: str | None = Field(
        default=None, min_length=1, max_length=32,
        description="18-character resident identity card number; checked against sex and age")
    custody_start: AwareDatetime | None = Field(
        default=None, description="when the clock started (arrival), if before this intake")


class ReleaseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(default="", max_length=500)


class TransferRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: str = Field(min_length=1, max_length=200, description="receiving unit, e.g. 看守所")
    reason: str = Field(min_length=1, max_length=500)


class OutingRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    minutes: float = Field(gt=0, le=MAX_OUTING_MINUTES, description="site minutes")
    reason: str = Field(min_length=1, max_length=500)


class TagCheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tamper: bool = Field(default=True, description="clear the tamper flag")
    battery: bool = Field(default=True, description="clear the low-battery flag")
    wristband: TagId | None = Field(default=None, description="a replacement tag to bind")


def _http(err: Exception) -> HTTPException:
    if isinstance(err, NotFound):
        return HTTPException(status.HTTP_404_NOT_FOUND, str(err))
    return HTTPException(status.HTTP_409_CONFLICT, str(err))


def _unprocessable(problems: list[tuple[str, str]], body: BaseModel) -> HTTPException:
    """422 in pydantic's shape, so clients read every refusal the same way."""
    return HTTPException(422, [
        {"type": "value_error", "loc": ["body", field], "msg": msg,
         "input": jsonable_encoder(getattr(body, field, None))} for field, msg in problems])


def _json(coord: Coordinator, person: PersonState) -> dict[str, Any]:
    return person_json(person, coord.custody_limits, coord.speed, time.time())


async def _changed(coord: Coordinator, change: Awaitable[PersonState]) -> dict[str, Any]:
    """Await a change to a person's record and answer the record as changed; the custody
    desk's refusals become 404 (unknown person) or 409 (state conflict)."""
    try:
        person = await change
    except (Conflict, NotFound) as err:
        raise _http(err) from None
    return _json(coord, person)


async def _file(coord: Coordinator, person: PersonState) -> dict[str, Any]:
    actions = await coord.custody.person_actions(person.id)
    return custody_record_json(coord.twin, person, coord.custody_limits, coord.speed,
                               time.time(), actions)


def _lookup(coord: Coordinator, person_id: str, suspect: bool) -> PersonState:
    person = coord.twin.people.get(person_id)
    if person is None or (suspect and person.role != "suspect"):
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            f"no {'person in custody' if suspect else 'person'} {person_id!r}")
    return person


# ------------------------------------------------------------------ staff and visitors


@router.post("/people", status_code=status.HTTP_201_CREATED)
async def register_person(body: StaffRequest, coord: Coord, user: Manager) -> dict[str, Any]:
    person = PersonState(id=body.id, role=body.role, sex=body.sex, name=body.name,
                         tag=body.badge or f"badge-{body.id}")
    return await _changed(coord, coord.custody.register_staff(person, user.username))


@router.get("/people")
async def list_people(coord: Coord, _: Reader) -> list[dict[str, Any]]:
    return [_json(coord, p) for p in coord.twin.people.values()]


@router.get("/people/{person}")
async def person_file(person: PathId, coord: Coord, _: Reader) -> dict[str, Any]:
    """Anyone's file: record, timeline of zones, actions."""
    return await _file(coord, _lookup(coord, person, suspect=False))


@router.post("/people/{person}/checkout")
async def checkout(person: PathId, coord: Coord, user: Manager) -> dict[str, Any]:
    """A visitor, lawyer, guardian or officer leaves and hands the badge back."""
    return await _changed(coord, coord.custody.checkout(person, user.username))


@router.post("/people/{person}/tag-check")
async def person_tag_check(person: PathId, coord: Coord,
                           user: Annotated[Principal, Depends(require(CAN_CHECK_TAGS))],
                           body: Annotated[TagCheckRequest | None, Body()] = None,
                           ) -> dict[str, Any]:
    """A badge's low battery (or a wristband's tamper) checked; see the custody variant."""
    return await custody_tag_check(person, coord, user, body)


# ------------------------------------------------------------------ custody


@router.post("/custody", status_code=status.HTTP_201_CREATED)
async def intake(body: IntakeRequest, coord: Coord, user: Manager) -> dict[str, Any]:
    now = time.time()
    start = body.custody_start.timestamp() if isinstance(body.custody_start, datetime) \
        else None
    problems = intake_problems(sex=body.sex, age=body.age, custody=body.custody,
                               id_number=body.id_number, custody_start=start, now=now,
                               today=site_today(coord.site, now))
    if problems:
        raise _unprocessable(problems, body)
    person = PersonState(id=body.person, role="suspect", sex=body.sex, age=body.age,
                         case=body.case, custody_basis=body.custody, name=body.name,
                         tag=body.wristband or f"wb-{body.person}", id_number=body.id_number)
    return await _changed(coord, coord.custody.intake(person, user.username, custody_start=start))


@router.get("/custody")
async def list_custody(coord: Coord, _: Reader, released: bool = False) -> list[dict[str, Any]]:
    """People in custody with their clocks, soonest deadline first (``?released=true``
    adds those released or transferred, after them)."""
    people = [p for p in coord.twin.people.values()
              if p.role == "suspect" and (p.in_custody or released)]
    listed = [_json(coord, p) for p in people]
    listed.sort(key=lambda j: (not j["in_custody"], j["custody_deadline"] or "", j["id"]))
    return listed


@router.get("/custody/{person}")
async def custody_file(person: PathId, coord: Coord, _: Reader) -> dict[str, Any]:
    """The person's file (一人一档): record, clock, timeline, belongings, outings, actions."""
    return await _file(coord, _lookup(coord, person, suspect=True))


@router.post("/custody/{person}/release")
async def release(person: PathId, coord: Coord, user: Manager,
                  body: Annotated[ReleaseRequest | None, Body()] = None) -> dict[str, Any]:
    return await _changed(coord, coord.custody.release(person, user.username,
                                                       body.reason if body else ""))


@router.post("/custody/{person}/transfer")
async def transfer(person: PathId, body: TransferRequest, coord: Coord,
                   user: Manager) -> dict[str, Any]:
    """Custody here ends by a handover: the person may leave (recorded as a transfer)."""
    return await _changed(coord, coord.custody.transfer(person, body.to, body.reason,
                                                        user.username))


@router.post("/custody/{person}/outing")
async def start_outing(person: PathId, body: OutingRequest, coord: Coord,
                       user: Manager) -> dict[str, Any]:
    """An approved outing (hospital, scene visit) of ``minutes`` site minutes."""
    return await _changed(coord, coord.custody.start_outing(person, body.minutes, body.reason,
                                                            user.username))


@router.post("/custody/{person}/outing/end")
async def end_outing(person: PathId, coord: Coord, user: Manager) -> dict[str, Any]:
    return await _changed(coord, coord.custody.end_outing(person, user.username))


@router.post("/custody/{person}/tag-check")
async def custody_tag_check(person: PathId, coord: Coord,
                            user: Annotated[Principal, Depends(require(CAN_CHECK_TAGS))],
                            body: Annotated[TagCheckRequest | None, Body()] = None,
                            ) -> dict[str, Any]:
    """The wristband was checked (or replaced): clears tag_tamper / tag_low_battery."""
    check = body or TagCheckRequest()
    return await _changed(coord, coord.custody.tag_check(
        person, user.username, tamper=check.tamper, battery=check.battery,
        new_tag=check.wristband))


@router.post("/custody/{person}/search")
async def search(person: PathId, coord: Coord, user: Manager) -> dict[str, Any]:
    """Record a completed body check (same effect as the terminal's search_completed)."""
    return await _changed(coord, coord.custody.search(person, user.username))
