"""The HTTP API against a real server (uvicorn on a free port) on a private Mosquitto."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from server.auth import Authenticator
from server.store.sqlite import SqliteStore
from tests.conftest import Broker
from tests.server.test_api_support import ADMIN_PASSWORD, running_server

pytestmark = pytest.mark.usefixtures("server_credentials")


async def test_login_and_protected_endpoints(tmp_path: Path, mqtt_broker: Broker) -> None:
    """Login answers a bearer token and a session cookie; a bad password is 401; every
    /api endpoint is 401 without credentials; the cookie alone is accepted."""
    async with running_server(tmp_path, mqtt_broker.url) as srv:
        async with httpx.AsyncClient(base_url=srv.base) as anon:
            bad = await anon.post("/api/auth/login",
                                  json={"username": "admin", "password": "wrong"})
            assert bad.status_code == 401
            for path in ("/api/alarms", "/api/zones", "/api/devices", "/api/site",
                         "/api/custody", "/api/auth/me"):
                assert (await anon.get(path)).status_code == 401, path
            assert (await anon.post("/api/custody", json={})).status_code == 401
            ok = await anon.post("/api/auth/login",
                                 json={"username": "admin", "password": ADMIN_PASSWORD})
            assert ok.status_code == 200
            assert ok.json()["token_type"] == "bearer"
            assert "cw_session" in ok.cookies
            me = await anon.get("/api/auth/me")  # the cookie jar carries cw_session
            assert me.json() == {"username": "admin", "role": "admin"}
            assert (await anon.post("/api/auth/logout")).status_code == 204
            assert (await anon.get("/api/auth/me")).status_code == 401
        health = await srv.http.get("/healthz")
        assert health.json() == {"status": "ok", "mqtt": True}


async def test_site_zones_devices(tmp_path: Path, mqtt_broker: Broker) -> None:
    """The reference centre is served: 23 zones, 107 devices, the site with its speed."""
    async with running_server(tmp_path, mqtt_broker.url, speed=60) as srv:
        zones = (await srv.get("/api/zones")).json()
        devices = (await srv.get("/api/devices")).json()
        site = (await srv.get("/api/site")).json()
    assert len(zones) == 23 and len(devices) == 107
    z = next(z for z in zones if z["id"] == "holding-5")
    assert z["capacity"] == 4 and z["status"] == "empty" and z["occupants"] == []
    assert set(z) >= {"id", "kind", "name", "capacity", "rect", "occupants", "people",
                      "status", "severity"}
    d = next(d for d in devices if d["id"] == "camera-interrogation-2")
    # Never heard of since the server started: offline, as CONTRACT.md's four statuses go.
    assert d["status"] == "offline" and d["link_status"] == "unknown"
    assert d["node"] == "edge-interview" and d["last_seen"] is None
    assert {x["status"] for x in devices} <= {"online", "offline", "stale", "maintenance"}
    assert site["id"] == "reference" and site["speed"] == 60 and len(site["zones"]) == 23
    assert site["name"]["zh"] and site["floor"]["width"] > 0


INTAKE = {"person": "S1", "sex": "male", "age": 34, "case": "C-001",
          "custody": "criminal_summons"}


def _messages(response: httpx.Response) -> list[str]:
    return [f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}"
            for e in response.json()["detail"]]


async def test_intake_validation(tmp_path: Path, mqtt_broker: Broker) -> None:
    """Intake refuses bad data with 422 naming the field (negative age, missing or unknown
    custody basis, unknown keys), a second intake of the same person with 409, and a
    release of a stranger with 404; a good intake is 201 and listed in custody."""
    async with running_server(tmp_path, mqtt_broker.url) as srv:
        r = await srv.post("/api/custody", json={**INTAKE, "age": -1})
        assert r.status_code == 422
        assert _messages(r) == ["age: Input should be greater than or equal to 0"]
        missing = {k: v for k, v in INTAKE.items() if k != "custody"}
        r = await srv.post("/api/custody", json=missing)
        assert r.status_code == 422 and _messages(r) == ["custody: Field required"]
        r = await srv.post("/api/custody", json={**INTAKE, "custody": "because"})
        assert r.status_code == 422 and _messages(r)[0].startswith("custody: Input should be")
        r = await srv.post("/api/custody", json={**INTAKE, "colour": "blue"})
        assert r.status_code == 422 and _messages(r) == ["colour: Extra inputs are not permitted"]

        r = await srv.post("/api/custody", json=INTAKE)
        assert r.status_code == 201, r.text
        person = r.json()
        assert person["in_custody"] and person["tag"] == "wb-S1"
        assert person["custody_start"].endswith("Z") and person["custody_limit_h"] == 12
        again = await srv.post("/api/custody", json=INTAKE)
        assert again.status_code == 409
        assert (await srv.post("/api/custody/NOBODY/release")).status_code == 404
        listed = (await srv.get("/api/custody")).json()
        assert [p["id"] for p in listed] == ["S1"]

        r = await srv.post("/api/custody/S1/search")
        assert r.status_code == 200 and r.json()["searched"] is True
        r = await srv.post("/api/custody/S1/release")
        assert r.status_code == 200 and r.json()["in_custody"] is False
        assert (await srv.post("/api/custody/S1/release")).status_code == 409
        assert (await srv.get("/api/custody")).json() == []


async def test_hostile_requests_never_500(tmp_path: Path, mqtt_broker: Broker) -> None:
    """Oversized bodies are 413, malformed JSON and wrong types 422, absurd ids 404/422:
    never a server error."""
    async with running_server(tmp_path, mqtt_broker.url) as srv:
        big = await srv.post("/api/custody", content=b"{" + b" " * 100_000 + b"}",
                             headers={"content-type": "application/json"})
        assert big.status_code == 413

        async def chunks():  # no Content-Length: the limit must still hold
            for _ in range(40):
                yield b" " * 4096

        chunked = await srv.post("/api/custody", content=chunks(),
                                 headers={"content-type": "application/json"})
        assert chunked.status_code == 413
        for body in (b"{", b"\xff\xfe", b"[]", b"null", b'{"person": {"a": 1}}'):
            r = await srv.post("/api/custody", content=body,
                               headers={"content-type": "application/json"})
            assert r.status_code == 422, (body, r.status_code, r.text)
        r = await srv.post("/api/custody", json={**INTAKE, "age": "old", "person": "a b/c"})
        assert r.status_code == 422
        assert (await srv.get("/api/alarms/999999")).status_code == 404
        assert (await srv.get("/api/alarms/abc")).status_code == 422
        assert (await srv.post("/api/alarms/1/ack", json={"comment": 5})).status_code == 422
        assert (await srv.get("/api/alarms", params={"active": "maybe"})).status_code == 422
        assert (await srv.http.get("/healthz")).status_code == 200


async def test_restart_keeps_users_and_people(tmp_path: Path, mqtt_broker: Broker,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A restart on the same data directory keeps the admin account (its password is
    not reset by the environment) and the people in custody with their custody clock."""
    async with running_server(tmp_path, mqtt_broker.url) as srv:
        assert (await srv.post("/api/custody", json=INTAKE)).status_code == 201
        r = await srv.post("/api/people", json={"id": "O1", "role": "officer", "sex": "male"})
        assert r.status_code == 201 and r.json()["tag"] == "badge-O1"
        before = (await srv.get("/api/custody")).json()
    monkeypatch.setenv("CUSTODYWATCH_ADMIN_PASSWORD", "ignored-now")
    async with running_server(tmp_path, mqtt_broker.url) as srv:  # logs in with the old one
        after = (await srv.get("/api/custody")).json()
        people = {p["id"] for p in (await srv.get("/api/people")).json()}
    moving = ("custody_elapsed_s", "custody_remaining_s")  # the clock ran meanwhile
    assert [{k: v for k, v in p.items() if k not in moving} for p in after] == \
        [{k: v for k, v in p.items() if k not in moving} for p in before]
    assert people == {"S1", "O1"}


async def test_metrics_endpoint(tmp_path: Path, mqtt_broker: Broker) -> None:
    """/metrics is Prometheus text without auth."""
    async with running_server(tmp_path, mqtt_broker.url) as srv:
        async with httpx.AsyncClient(base_url=srv.base) as anon:
            r = await anon.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert "custodywatch_mqtt_connected 1.0" in r.text
    assert "custodywatch_ws_clients" in r.text


async def test_roles_and_dashboards(tmp_path: Path, mqtt_broker: Broker) -> None:
    """A guard may read and ack but not manage custody (403); / serves the wall page."""
    async with SqliteStore(tmp_path) as store:
        auth = Authenticator(store, b"unused", 3600)
        await auth.ensure_admin()
        await auth.create_user("guard1", "guard-password", "guard")
    async with running_server(tmp_path, mqtt_broker.url) as srv:
        async with httpx.AsyncClient(base_url=srv.base) as guard:
            r = await guard.post("/api/auth/login",
                                 json={"username": "guard1", "password": "guard-password"})
            assert r.status_code == 200
            assert (await guard.get("/api/zones")).status_code == 200
            assert (await guard.post("/api/custody", json=INTAKE)).status_code == 403
            assert (await guard.post("/api/alarms/5/ack")).status_code == 404  # allowed, absent
            home = await guard.get("/")
            assert home.status_code == 200
            assert "text/html" in home.headers["content-type"]
            assert (await guard.get("/static/wall/index.html")).status_code == 200
            assert (await guard.get("/docs")).status_code == 200


async def test_initial_admin_password_printed_once(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Without CUSTODYWATCH_ADMIN_PASSWORD a password is generated, printed once, and
    works; a second start prints nothing."""
    monkeypatch.delenv("CUSTODYWATCH_ADMIN_PASSWORD")
    async with SqliteStore(tmp_path) as store:
        auth = Authenticator(store, b"secret", 3600)
        await auth.ensure_admin()
        out = capsys.readouterr().out
        assert out.startswith("initial admin password: ")
        password = out.split(": ", 1)[1].strip()
        assert await auth.check_password("admin", password) is not None
        assert await auth.check_password("admin", "guess") is None
        await auth.ensure_admin()
        assert capsys.readouterr().out == ""
