"""POST /api/auth/login, POST /api/auth/logout, GET /api/auth/me."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from server.auth import SESSION_COOKIE, Authenticator, Principal, current_user
from server.store.records import AuditEntry, WriteBatch

router = APIRouter(prefix="/api/auth", tags=["auth"])


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"


class MeResponse(BaseModel):
    username: str
    role: str


def _auth(request: Request) -> Authenticator:
    auth: Authenticator = request.app.state.auth
    return auth


@router.post("/login", response_model=TokenResponse)
async def login(body: LoginRequest, request: Request, response: Response) -> TokenResponse:
    auth = _auth(request)
    principal = await auth.check_password(body.username, body.password)
    await auth.store.write(WriteBatch(audit=[AuditEntry(
        time.time(), body.username, "login" if principal else "login_failed",
        {"client": request.client.host if request.client else None})]))
    if principal is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "bad username or password",
                            headers={"WWW-Authenticate": "Bearer"})
    token = auth.issue_token(principal)
    response.set_cookie(SESSION_COOKIE, token, max_age=auth.token_ttl_s, httponly=True,
                        samesite="strict", path="/")
    return TokenResponse(access_token=token)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(request: Request, response: Response,
                 user: Annotated[Principal, Depends(current_user)]) -> None:
    _auth(request).revoke(user)
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/me", response_model=MeResponse)
async def me(user: Annotated[Principal, Depends(current_user)]) -> MeResponse:
    return MeResponse(username=user.username, role=user.role)
