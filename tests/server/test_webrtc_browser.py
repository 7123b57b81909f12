"""The wall's live view in Debian's Chromium (Playwright): clicking an interrogation room
plays its camera over WebRTC, relayed by the server from a simulated MJPEG camera — the
video element's time advances on decoded frames — with the camera's diagnosis on the
tile; without a login the signalling API refuses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from protocol import topics
from protocol.codec import now_ms
from protocol.messages import DeviceData
from tests.dashboards import support as browser_support
from tests.dashboards.support import artifact, collect_errors, require_chromium
from tests.server.test_api_support import ADMIN_PASSWORD, FakeNode, RunningServer
from tests.server.test_webrtc_support import CAMERA, NODE, camera_online

# real-time video: runs alone
pytestmark = [pytest.mark.browser, pytest.mark.serial,
              pytest.mark.usefixtures("server_credentials")]

CHROMIUM_ARGS = [*browser_support.CHROMIUM_ARGS,
                 # WebRTC on one machine: plain host candidates, loopback allowed.
                 "--allow-loopback-in-peer-connection",
                 "--disable-features=WebRtcHideLocalIpsWithMdns",
                 "--autoplay-policy=no-user-gesture-required"]


@asynccontextmanager
async def reporting(node: FakeNode) -> AsyncIterator[None]:
    """The camera keeps reporting while the browser works, as the edge's driver does (the
    profile's heartbeat is 5 s: a camera silent for 12.5 s is shown stale, and a slow,
    loaded machine can take that long to start Chromium and negotiate)."""
    async def report() -> None:
        while True:
            node.publish(topics.device_topic("reference", NODE, CAMERA,
                                             topics.DeviceMessage.DATA),
                         DeviceData(ts=now_ms(), seq=node.next_seq(), metrics={"fps": 8.0}))
            await asyncio.sleep(2.0)

    task = asyncio.create_task(report())
    try:
        yield
    finally:
        task.cancel()


@asynccontextmanager
async def wall_page(server: RunningServer, node: FakeNode,
                    ) -> AsyncIterator[tuple[Any, list[str]]]:
    """The wall (zh-CN, 1920×1080) opened in Chromium, not logged in yet, while the camera
    keeps reporting; yields the page and the list its JavaScript errors go to."""
    from playwright.async_api import async_playwright

    async with reporting(node), async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=browser_support.CHROMIUM,
                                           args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1920, "height": 1080},
                                          locale="zh-CN")
            errors = collect_errors(page)
            await page.goto(server.base + "/")
            yield page, errors
        finally:
            await browser.close()


async def open_live_tile(page: Any) -> Any:
    """Log in as admin through the wall's form, wait for the live connection, click
    interrogation-1: its live tile."""
    from playwright.async_api import expect

    await page.fill("input[name=username]", "admin")
    await page.fill("input[name=password]", ADMIN_PASSWORD)
    await page.click(".login-card button[type=submit]")
    await expect(page.locator("#conn")).to_have_attribute("data-status", "live",
                                                          timeout=10_000)
    await page.locator('g.zone[data-zone="interrogation-1"]').click()
    return page.locator("#live-tile")


async def test_live_view_plays_in_chromium_and_refuses_without_login(mqtt_broker,
                                                                    tmp_path: Path) -> None:
    """No session: POST /api/live/…/offer answers 401.  Logged in through the page's form,
    a click on interrogation-1 opens the live tile; Chromium negotiates, decodes and plays
    (currentTime advances, 640×360); the tile shows the diagnosis and follows it when the
    edge reports the picture frozen."""
    from playwright.async_api import expect

    require_chromium()
    async with camera_online(tmp_path, mqtt_broker, metrics={"diagnosis_detail": ""}) as (
            server, _cam, node), wall_page(server, node) as (page, errors):
        refused = await page.evaluate(
            """async (camera) => (await fetch(`/api/live/${camera}/offer`, {
                method: "POST", headers: {"Content-Type": "application/json"},
                body: JSON.stringify({sdp: "v=0 x x x x x", type: "offer"})
            })).status""", CAMERA)
        assert refused == 401

        tile = await open_live_tile(page)
        await expect(tile).to_be_visible()
        await expect(tile).to_have_attribute("data-status", "playing", timeout=15_000)
        video = tile.locator("video")
        await page.wait_for_function(
            "v => v.currentTime > 0.5 && v.videoWidth > 0",
            arg=await video.element_handle(), timeout=15_000)
        first = await video.evaluate("v => v.currentTime")
        await asyncio.sleep(1.5)
        later = await video.evaluate("v => v.currentTime")
        size = await video.evaluate("v => [v.videoWidth, v.videoHeight]")
        assert later > first, (first, later)
        assert size == [640, 360]
        await expect(tile.locator(".live-diag")).to_have_text("画面诊断: 画面正常")
        await page.screenshot(path=artifact("wall-live-view.png"))

        node.publish(topics.device_topic("reference", NODE, CAMERA, topics.DeviceMessage.DATA),
                     DeviceData(ts=now_ms(), seq=node.next_seq(),
                                metrics={"diagnosis": "frozen",
                                         "diagnosis_detail": "no change for 4s"}))
        await expect(tile.locator(".live-diag")).to_have_text("画面诊断: 画面冻结",
                                                              timeout=5_000)
        assert not errors, errors


async def test_tile_says_in_chinese_that_the_camera_refused_the_credentials(
        mqtt_broker, tmp_path: Path) -> None:
    """A camera asking for a login the server has wrong: the tile says so in the wall's
    language (not FFmpeg's English, never the password); the diagnosis detail on hover is
    rendered from diagnosis_info in Chinese too."""
    from playwright.async_api import expect

    from server.camera_credentials import CREDENTIALS_FILE, write_credentials

    require_chromium()
    write_credentials(tmp_path / CREDENTIALS_FILE,
                      f'cameras:\n  {CAMERA}: {{username: viewer, password: "wrong-pw-9"}}\n')
    frozen = {"diagnosis": "frozen", "diagnosis_detail": "no change for 12s",
              "diagnosis_info": '{"code":"frozen","seconds":12}'}
    async with camera_online(tmp_path, mqtt_broker, camera_login=("viewer", "right"),
                             metrics=frozen) as (server, _cam, node), \
            wall_page(server, node) as (page, _errors):
        tile = await open_live_tile(page)
        await expect(tile).to_have_attribute("data-status", "error", timeout=15_000)
        state = tile.locator(".live-state")
        await expect(state).to_have_text(
            "无法获取画面: 摄像机拒绝了登录凭据, 请检查服务器的摄像机凭据文件")
        diag = tile.locator(".live-diag")
        await expect(diag).to_have_text("画面诊断: 画面冻结")
        await expect(diag).to_have_attribute("title", "12 秒画面无变化")
        # Worded by the server, one table for the alarms and the pages (protocol/reasons.py).
        devices = {d["id"]: d for d in (await server.get("/api/devices")).json()}
        assert devices[CAMERA]["diagnosis_text"] == {"zh": "12 秒画面无变化",
                                                     "en": "no change for 12s"}
        assert "wrong-pw-9" not in await page.content()
        await page.screenshot(path=artifact("wall-live-view-refused.png"))
