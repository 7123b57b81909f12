"""Users, passwords and sessions.

Passwords are argon2id hashes (argon2-cffi); sessions are HS256 JWTs (PyJWT) signed with
a secret kept in ``<data_dir>/jwt.key``.  A token travels as ``Authorization: Bearer`` (tools)
or in the httponly ``cw_session`` cookie (the dashboards).

The initial ``admin`` account is created when the users table is empty: its password is
``CUSTODYWATCH_ADMIN_PASSWORD`` (CONTRACT.md) or a generated one printed once to stdout.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import HTTPException, Request, WebSocket, status

from server.store.records import UserRecord
from server.store.sqlite import SqliteStore

log = logging.getLogger(__name__)

Role = Literal["admin", "duty", "guard", "supervisor", "tech"]
ROLES: tuple[str, ...] = ("admin", "duty", "guard", "supervisor", "tech")
ADMIN_PASSWORD_ENV = "CUSTODYWATCH_ADMIN_PASSWORD"
SESSION_COOKIE = "cw_session"
ALGORITHM = "HS256"

# Who may do what (admin may do everything).  Reading the live state is open to every role.
CAN_ACK = frozenset({"duty", "guard", "supervisor"})
CAN_MANAGE_CUSTODY = frozenset({"duty"})


@dataclass(frozen=True, slots=True)
class Principal:
    username: str
    role: str
    token_id: str = ""


class Authenticator:
    def __init__(self, store: SqliteStore, secret: bytes, token_ttl_s: int) -> None:
        self.store = store
        self.secret = secret
        self.token_ttl_s = token_ttl_s
        self._hasher = PasswordHasher()
        self._revoked: dict[str, float] = {}  # token id -> expiry (logout before expiry)

    async def ensure_admin(self) -> None:
        if await self.store.count_users() > 0:
            return
        password = os.environ.get(ADMIN_PASSWORD_ENV)
        generated = not password
        if not password:
            password = secrets.token_urlsafe(12)
        await self.create_user("admin", password, "admin")
        if generated:
            # Shown exactly once, on the console of whoever created the data directory.
            print(f"initial admin password: {password}", flush=True)
        log.info("created initial admin account")

    async def create_user(self, username: str, password: str, role: str) -> None:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        digest = await asyncio.to_thread(self._hasher.hash, password)
        await self.store.add_user(UserRecord(username, digest, role, time.time()))

    async def check_password(self, username: str, password: str) -> Principal | None:
        user = await self.store.get_user(username)
        if user is None:
            # Same work as a real check so that timing does not reveal which names exist.
            await asyncio.to_thread(self._verify, _DUMMY_HASH, password)
            return None
        if not await asyncio.to_thread(self._verify, user.password_hash, password):
            return None
        return Principal(user.username, user.role)

    def _verify(self, digest: str, password: str) -> bool:
        try:
            return self._hasher.verify(digest, password)
        except (VerificationError, InvalidHashError):
            return False

    def issue_token(self, principal: Principal) -> str:
        now = int(time.time())
        claims = {"sub": principal.username, "role": principal.role, "iat": now,
                  "exp": now + self.token_ttl_s, "jti": uuid.uuid4().hex}
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM)

    def decode_token(self, token: str) -> Principal | None:
        try:
            claims = jwt.decode(token, self.secret, algorithms=[ALGORITHM],
                                options={"require": ["sub", "role", "exp", "jti"]})
        except jwt.PyJWTError:
            return None
        if claims["jti"] in self._revoked or claims["role"] not in ROLES:
            return None
        return Principal(str(claims["sub"]), str(claims["role"]), str(claims["jti"]))

    def revoke(self, principal: Principal) -> None:
        now = time.time()
        self._revoked = {j: exp for j, exp in self._revoked.items() if exp > now}
        if principal.token_id:
            self._revoked[principal.token_id] = now + self.token_ttl_s


_DUMMY_HASH = PasswordHasher().hash("not a password")


def _authenticator(app_state: object) -> Authenticator:
    auth: Authenticator = app_state.auth  # type: ignore[attr-defined]
    return auth


def token_from(headers_auth: str | None, cookie: str | None, query: str | None = None) -> str:
    if headers_auth and headers_auth.lower().startswith("bearer "):
        return headers_auth[7:].strip()
    return cookie or query or ""


async def current_user(request: Request) -> Principal:
    """FastAPI dependency: the caller, from the bearer token or the session cookie; 401."""
    token = token_from(request.headers.get("authorization"), request.cookies.get(SESSION_COOKIE))
    principal = _authenticator(request.app.state).decode_token(token) if token else None
    if principal is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "not authenticated",
                            headers={"WWW-Authenticate": "Bearer"})
    return principal


def require(roles: frozenset[str]) -> Callable[[Request], Awaitable[Principal]]:
    """FastAPI dependency factory: the caller must hold one of ``roles`` (or admin); 403."""
    async def dependency(request: Request) -> Principal:
        principal = await current_user(request)
        if principal.role != "admin" and principal.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"role {principal.role!r} may not do this")
        return principal
    return dependency


def websocket_user(websocket: WebSocket) -> Principal | None:
    token = token_from(websocket.headers.get("authorization"),
                       websocket.cookies.get(SESSION_COOKIE), websocket.query_params.get("token"))
    return _authenticator(websocket.app.state).decode_token(token) if token else None
