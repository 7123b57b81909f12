"""People and custody: POST /api/people (staff, visitors), POST /api/custody (intake),
POST /api/custody/{person}/release, POST /api/custody/{person}/search, GET /api/custody.

Tags follow the convention of the preamble: a person in custody wears wristband
``wb-<person>``, staff wear badge ``badge-<person>`` unless the request names another.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, status
from pydantic import BaseModel, ConfigDict, Field

from server.api.deps import coordinator
from server.api.views import DEFAULT_CUSTODY_LIMITS_H, person_json
from server.auth import CAN_MANAGE_CUSTODY, Principal, current_user, require
from server.errors import Conflict, NotFound
from server.service import Coordinator
from server.twin import PersonState

router = APIRouter(prefix="/api", tags=["people and custody"])

ID = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
PersonId = Annotated[str, Field(pattern=ID, description="the person's id, e.g. S1 or O1")]
CustodyBasis = Literal[
    "criminal_summons", "criminal_summons_extended", "administrative_questioning",
    "administrative_questioning_extended", "continued_questioning",
    "continued_questioning_extended",
]
assert set(CustodyBasis.__args__) == set(DEFAULT_CUSTODY_LIMITS_H)  # type: ignore[attr-defined]


class StaffRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: PersonId
    role: Literal["officer", "guard", "guardian", "lawyer", "visitor"] = Field(
        description="people in custody are registered through POST /api/custody")
    sex: Literal["male", "female"]
    name: str = Field(default="", max_length=100)
    badge: Annotated[str, Field(pattern=ID)] | None = None


class IntakeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    person: PersonId
    sex: Literal["male", "female"]
    age: int = Field(ge=0, le=130, description="under 18 makes the person a juvenile")
    case: str = Field(min_length=1, max_length=64, description="co-accused share a case")
    custody: CustodyBasis = Field(description="legal basis; sets the custody clock")
    name: str = Field(default="", max_length=100)
    wristband: Annotated[str, Field(pattern=ID)] | None = None


def _http(err: Exception) -> HTTPException:
    if isinstance(err, NotFound):
        return HTTPException(status.HTTP_404_NOT_FOUND, str(err))
    return HTTPException(status.HTTP_409_CONFLICT, str(err))


@router.post("/people", status_code=status.HTTP_201_CREATED)
async def register_person(body: StaffRequest,
                          coord: Annotated[Coordinator, Depends(coordinator)],
                          user: Annotated[Principal, Depends(require(CAN_MANAGE_CUSTODY))],
                          ) -> dict[str, Any]:
    person = PersonState(id=body.id, role=body.role, sex=body.sex, name=body.name,
                         tag=body.badge or f"badge-{body.id}")
    try:
        registered = await coord.register_staff(person, user.username)
    except (Conflict, NotFound) as err:
        raise _http(err) from None
    return person_json(coord.site, coord.speed, registered)


@router.get("/people")
async def list_people(coord: Annotated[Coordinator, Depends(coordinator)],
                      _: Annotated[Principal, Depends(current_user)]) -> list[dict[str, Any]]:
    return [person_json(coord.site, coord.speed, p) for p in coord.twin.people.values()]


@router.post("/custody", status_code=status.HTTP_201_CREATED)
async def intake(body: IntakeRequest, coord: Annotated[Coordinator, Depends(coordinator)],
                 user: Annotated[Principal, Depends(require(CAN_MANAGE_CUSTODY))],
                 ) -> dict[str, Any]:
    person = PersonState(id=body.person, role="suspect", sex=body.sex, age=body.age,
                         case=body.case, custody_basis=body.custody, name=body.name,
                         tag=body.wristband or f"wb-{body.person}")
    try:
        registered = await coord.intake(person, user.username)
    except (Conflict, NotFound) as err:
        raise _http(err) from None
    return person_json(coord.site, coord.speed, registered)


@router.get("/custody")
async def list_custody(coord: Annotated[Coordinator, Depends(coordinator)],
                       _: Annotated[Principal, Depends(current_user)],
                       released: bool = False) -> list[dict[str, Any]]:
    """People in custody (``?released=true`` adds those released)."""
    return [person_json(coord.site, coord.speed, p) for p in coord.twin.people.values()
            if p.role == "suspect" and (p.in_custody or released)]


@router.post("/custody/{person}/release")
async def release(person: Annotated[str, Path(pattern=ID)],
                  coord: Annotated[Coordinator, Depends(coordinator)],
                  user: Annotated[Principal, Depends(require(CAN_MANAGE_CUSTODY))],
                  ) -> dict[str, Any]:
    try:
        released = await coord.release(person, user.username)
    except (Conflict, NotFound) as err:
        raise _http(err) from None
    return person_json(coord.site, coord.speed, released)


@router.post("/custody/{person}/search")
async def search(person: Annotated[str, Path(pattern=ID)],
                 coord: Annotated[Coordinator, Depends(coordinator)],
                 user: Annotated[Principal, Depends(require(CAN_MANAGE_CUSTODY))],
                 ) -> dict[str, Any]:
    """Record a completed body check (same effect as the terminal's search_completed)."""
    try:
        searched = await coord.search(person, user.username)
    except (Conflict, NotFound) as err:
        raise _http(err) from None
    return person_json(coord.site, coord.speed, searched)
