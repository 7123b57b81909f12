"""User accounts and roles (admin): list, create, change role or password.  Audited as
configuration changes (the audit never holds a password or its hash)."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from argon2 import PasswordHasher
from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field

from server.api.views import iso
from server.auth import ROLES, Authenticator, Principal, require
from server.store.records import AuditEntry, WriteBatch
from server.store.sqlite import StoreError

router = APIRouter(prefix="/api/users", tags=["users"])

CAN_LIST = frozenset({"supervisor"})
ADMIN_ONLY: frozenset[str] = frozenset()
_HASHER = PasswordHasher()  # the same defaults as server/auth.py
USERNAME = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"  # also an MQTT topic level (guard topics)


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(pattern=USERNAME)
    password: str = Field(min_length=8, max_length=256)
    role: str = Field(pattern="^(" + "|".join(ROLES) + ")$")


class UserChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: str | None = Field(default=None, pattern="^(" + "|".join(ROLES) + ")$")
    password: str | None = Field(default=None, min_length=8, max_length=256)


def _auth(request: Request) -> Authenticator:
    auth: Authenticator = request.app.state.auth
    return auth


async def _audit(auth: Authenticator, user: str, action: str, **detail: Any) -> None:
    await auth.store.write(WriteBatch(audit=[AuditEntry(time.time(), user, action, detail)]))


@router.get("")
async def list_users(request: Request,
                     _: Annotated[Principal, Depends(require(CAN_LIST))]) -> list[dict[str, Any]]:
    return [{"username": u.username, "role": u.role, "created": iso(u.created)}
            for u in await _auth(request).store.list_users()]


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_user(body: NewUser, request: Request,
                      who: Annotated[Principal, Depends(require(ADMIN_ONLY))],
                      ) -> dict[str, Any]:
    auth = _auth(request)
    try:
        await auth.create_user(body.username, body.password, body.role)
    except StoreError as err:
        await _audit(auth, who.username, "user_create_refused", username=body.username,
                     error=str(err))
        raise HTTPException(status.HTTP_409_CONFLICT, str(err)) from None
    await _audit(auth, who.username, "user_create", username=body.username, role=body.role)
    return {"username": body.username, "role": body.role}


@router.patch("/{username}")
async def change_user(username: str, body: UserChange, request: Request,
                      who: Annotated[Principal, Depends(require(ADMIN_ONLY))],
                      ) -> dict[str, Any]:
    auth = _auth(request)
    digest = (await asyncio.to_thread(_HASHER.hash, body.password)
              if body.password else None)
    if not await auth.store.update_user(username, password_hash=digest, role=body.role):
        await _audit(auth, who.username, "user_update_refused", username=username,
                     error="no such user")
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no user {username!r}")
    await _audit(auth, who.username, "user_update", username=username, role=body.role,
                 password_changed=body.password is not None)
    record = await auth.store.get_user(username)
    return {"username": username, "role": record.role if record else body.role}
