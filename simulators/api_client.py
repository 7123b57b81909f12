"""The few server API calls the simulators need (CONTRACT.md "HTTP API"), over httpx.

Every failure becomes :class:`ApiError` naming the call, so a player run ends with one clear
line rather than a traceback.
"""

from __future__ import annotations

import os
from types import TracebackType
from typing import Any

import httpx

from simulators.errors import ApiError

USER_ENV, PASSWORD_ENV = "CUSTODYWATCH_USER", "CUSTODYWATCH_PASSWORD"


class ApiClient:
    def __init__(self, base_url: str, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=10.0,
                                       transport=transport)

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, json: Any = None,
                    params: dict[str, str] | None = None) -> Any:
        try:
            response = await self._http.request(method, path, json=json, params=params)
        except httpx.HTTPError as err:
            raise ApiError(method, path, None, f"cannot reach {self.base_url}: {err}") from err
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise ApiError(method, path, response.status_code, str(detail)[:300])
        if not response.content:
            return None
        return response.json()

    async def login(self, username: str | None = None, password: str | None = None) -> None:
        """Log in with the given or the environment's credentials (default user admin)."""
        username = username or os.environ.get(USER_ENV) or "admin"
        password = password if password is not None else os.environ.get(PASSWORD_ENV, "")
        token = await self._call("POST", "/api/auth/login",
                                 {"username": username, "password": password})
        self._http.headers["Authorization"] = f"Bearer {token['access_token']}"

    async def site(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("GET", "/api/site")
        return result

    async def register_person(self, person: str, role: str, sex: str, badge: str,
                              name: str | None = None) -> None:
        body = {"id": person, "role": role, "sex": sex, "badge": badge}
        if name:
            body["name"] = name
        await self._call("POST", "/api/people", body)

    async def intake(self, person: str, *, sex: str, age: int, case: str, custody: str,
                     wristband: str, name: str | None = None) -> None:
        body: dict[str, Any] = {"person": person, "sex": sex, "age": age, "case": case,
                                "custody": custody, "wristband": wristband}
        if name:
            body["name"] = name
        await self._call("POST", "/api/custody", body)

    async def release(self, person: str) -> None:
        await self._call("POST", f"/api/custody/{person}/release", {})

    async def start_outing(self, person: str, minutes: float, reason: str) -> None:
        await self._call("POST", f"/api/custody/{person}/outing",
                         {"minutes": minutes, "reason": reason})

    async def end_outing(self, person: str) -> None:
        await self._call("POST", f"/api/custody/{person}/outing/end", {})

    async def transfer(self, person: str, to: str, reason: str) -> None:
        await self._call("POST", f"/api/custody/{person}/transfer", {"to": to, "reason": reason})

    async def tag_check(self, person: str) -> None:
        await self._call("POST", f"/api/people/{person}/tag-check", {})

    async def record_search(self, person: str) -> None:
        await self._call("POST", f"/api/custody/{person}/search", {})

    async def alarms(self, active_only: bool = False) -> list[dict[str, Any]]:
        params = {"active": "true"} if active_only else None
        result = await self._call("GET", "/api/alarms", params=params)
        # Accept a bare list or an envelope ({"alarms": [...]}) — the contract names the items.
        if isinstance(result, dict):
            result = result.get("alarms", result.get("items", []))
        return list(result)
