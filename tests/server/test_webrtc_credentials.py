"""Live view of password-protected cameras (server/camera_credentials.py, server/webrtc.py):
a simulated MJPEG camera that requires HTTP Basic auth, relayed with the login from the
server's camera credentials file — and the password never in a response or a log line."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.camera_credentials import CREDENTIALS_FILE, write_credentials
from simulators.devices.cameras import CameraServer
from tests.server.test_api_support import (
    RunningServer,
    wait_until,
)
from tests.server.test_webrtc_support import CAMERA, camera_online, negotiate

PASSWORD = "s3cr3t:p@ss w0rd"  # characters that need percent-encoding in a URL
WRONG = "n0t-the-Passw0rd"
USER = "viewer"


pytestmark = pytest.mark.usefixtures("server_credentials")


@asynccontextmanager
async def protected_camera(tmp_path: Path, broker: Any, credentials: str | None,
                           ) -> AsyncIterator[tuple[RunningServer, CameraServer]]:
    """A camera asking for viewer/PASSWORD, the server (with ``credentials`` as its
    credentials file, if any) and a node announcing the camera's URL without a login, as
    the edge's driver reports it."""
    if credentials is not None:
        write_credentials(tmp_path / CREDENTIALS_FILE, credentials)
    async with camera_online(tmp_path, broker, (USER, PASSWORD)) as (server, cam, _node):
        yield server, cam


def _login(password: str) -> str:
    return f'cameras:\n  {CAMERA}: {{username: {USER}, password: "{password}"}}\n'


def _no_secret(text: str) -> None:
    for secret in (PASSWORD, WRONG, "s3cr3t", "s3cr3t%3Ap%40ss"):
        assert secret not in text


async def _everything_served(server: RunningServer) -> str:
    """What the API shows about devices and cameras, as text."""
    parts = [(await server.get(path)).text
             for path in ("/api/live/cameras", "/api/devices", f"/api/devices/{CAMERA}")]
    return "\n".join(parts)


def _logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)


async def test_right_credentials_give_the_picture(mqtt_broker, tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    """The credentials file's username/password go into the reported URL: the viewer
    receives the camera's frames; no response and no log line holds the password; the
    file is mode 0600."""
    caplog.set_level(logging.DEBUG)
    async with protected_camera(tmp_path, mqtt_broker, _login(PASSWORD)) as (server, cam):
        pc, response, tracks = await negotiate(server.http)
        try:
            assert response.status_code == 200, response.text
            track = await asyncio.wait_for(tracks.get(), 10)
            frame = await asyncio.wait_for(track.recv(), 10)
            assert (frame.width, frame.height) == (640, 360)
            assert cam.refused_logins == 0
            _no_secret(response.text + await _everything_served(server))
        finally:
            await pc.close()
    assert os.stat(tmp_path / CREDENTIALS_FILE).st_mode & 0o077 == 0
    _no_secret(_logged(caplog))


async def test_a_url_of_its_own_works_too(mqtt_broker, tmp_path: Path) -> None:
    """An entry with a whole URL (login inside) replaces the reported one."""
    async with CameraServer("Other", fps=8, credentials=(USER, PASSWORD)) as other:
        url = other.url.replace("http://", "http://viewer:s3cr3t%3Ap%40ss%20w0rd@")
        async with protected_camera(tmp_path, mqtt_broker,
                                    f'cameras:\n  {CAMERA}: {{url: "{url}"}}\n') as (server, _):
            pc, response, _tracks = await negotiate(server.http)
            await pc.close()
            assert response.status_code == 200, response.text
            assert other.frames_sent > 0  # the picture came from the entry's URL


async def test_wrong_credentials_are_refused_clearly_and_quickly(
        mqtt_broker, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A wrong password: 503 with reason credentials_refused and a message saying so,
    without waiting for the first-frame timeout, and without the password anywhere."""
    caplog.set_level(logging.DEBUG)
    async with protected_camera(tmp_path, mqtt_broker, _login(WRONG)) as (server, cam):
        started = asyncio.get_running_loop().time()
        pc, response, _tracks = await negotiate(server.http)
        await pc.close()
        assert response.status_code == 503
        body = response.json()
        assert body["reason"] == "credentials_refused"
        assert "the camera refused the credentials" in body["detail"]
        assert asyncio.get_running_loop().time() - started < 5.0  # not the 5 s timeout
        assert cam.refused_logins >= 1
        _no_secret(response.text + await _everything_served(server))
    _no_secret(_logged(caplog))


async def test_missing_credentials_say_what_to_do_and_a_new_file_is_read(
        mqtt_broker, tmp_path: Path) -> None:
    """No credentials for a camera that wants them: reason credentials_needed, pointing at
    the credentials file.  Writing the file makes the next attempt work, no restart."""
    async with protected_camera(tmp_path, mqtt_broker, None) as (server, _cam):
        pc, response, _ = await negotiate(server.http)
        await pc.close()
        assert response.status_code == 503
        assert response.json()["reason"] == "credentials_needed"
        assert "camera credentials file" in response.json()["detail"]
        write_credentials(tmp_path / CREDENTIALS_FILE, _login(PASSWORD))
        pc, response, _ = await negotiate(server.http)
        await pc.close()
        assert response.status_code == 200, response.text


async def test_an_invalid_file_is_logged_without_secrets_and_the_last_good_one_kept(
        mqtt_broker, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The file turns invalid while the server runs: an error naming file:line: field in
    the log (no value), and the previous credentials keep working."""
    caplog.set_level(logging.DEBUG)
    async with protected_camera(tmp_path, mqtt_broker, _login(PASSWORD)) as (server, _cam):
        pc, response, _ = await negotiate(server.http)
        await pc.close()
        assert response.status_code == 200, response.text
        await server.http.delete(f"/api/live/sessions/{response.json()['session']}")
        await wait_until(lambda: _no_viewers(server), "viewer gone")
        write_credentials(tmp_path / CREDENTIALS_FILE,
                          f'cameras:\n  {CAMERA}: {{username: {USER}, password: "{WRONG}", '
                          'port: 80}\n')
        pc, response, _ = await negotiate(server.http)
        await pc.close()
        assert response.status_code == 200, response.text
    logged = _logged(caplog)
    assert f"{CREDENTIALS_FILE}:2: cameras.{CAMERA}.port: Extra inputs" in logged
    _no_secret(logged)


async def _no_viewers(server: RunningServer) -> bool:
    cams = (await server.get("/api/live/cameras")).json()
    return bool(next(c for c in cams if c["id"] == CAMERA)["viewers"] == 0)


async def test_credentials_file_is_never_served(mqtt_broker, tmp_path: Path) -> None:
    """No URL of the server serves the file (the dashboards' static mount is another
    folder)."""
    async with protected_camera(tmp_path, mqtt_broker, _login(PASSWORD)) as (server, _):
        async with httpx.AsyncClient(base_url=server.base) as anonymous:
            for path in (f"/{CREDENTIALS_FILE}", f"/static/{CREDENTIALS_FILE}",
                         f"/static/../{CREDENTIALS_FILE}"):
                for client in (anonymous, server.http):
                    r = await client.get(path)
                    _no_secret(r.text)


async def test_an_invalid_file_is_reported_at_start(mqtt_broker, tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    """A bad file is in the log as soon as the server starts (file:line: field, no value),
    before anyone opens a live view; the server runs on."""
    caplog.set_level(logging.INFO)
    async with protected_camera(tmp_path, mqtt_broker,
                                f'cameras:\n  {CAMERA}: {{password: "{PASSWORD}"}}\n') as (
            server, _):
        logged = _logged(caplog)
        assert f"{CREDENTIALS_FILE}:2: cameras.{CAMERA}: Value error, give either" in logged
        assert (await server.get("/healthz")).status_code == 200
    _no_secret(_logged(caplog))
