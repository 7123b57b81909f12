"""The guard's handheld page (/guard) and the duty-desk wall in Debian's Chromium against
the real server (a subprocess on a private Mosquitto).

A node plays the gateway: a door forced in holding-1 reaches the guard on shift for that
zone as a full-screen critical alert within 2 s; one tap acknowledges it; the wall then
shows who acknowledged.  The handheld then loses its network: an alert raised meanwhile
is shown, flagged as missed, once it is back.  Arrived and resolved (with a note) are one
tap each.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Broker
from tests.dashboards.support import artifact, chromium, collect_errors, log_in
from tests.e2e.support import server_process
from tests.server.test_api_support import FakeNode

pytestmark = pytest.mark.browser

PASSWORD = "guard-test-pw"
USER_PASSWORD = "user-pw-123"


@pytest.fixture
def server(mqtt_broker: Broker, tmp_path: Path) -> Iterator[str]:
    """``custodywatch server`` (speed 1) with users g1 (guard on holding-1) and duty1."""
    with server_process(tmp_path, mqtt_broker.url, 1, password=PASSWORD) as srv, \
            srv.client() as http:
        for user, role in (("g1", "guard"), ("duty1", "duty")):
            r = http.post("/api/users",
                          json={"username": user, "password": USER_PASSWORD, "role": role})
            assert r.status_code == 201, r.text
        r = http.post("/api/guards/shifts", json={"user": "g1", "zones": ["holding-1"]})
        assert r.status_code == 201, r.text
        yield srv.url


def test_guard_alert_ack_and_wall(server: str, mqtt_broker: Broker) -> None:
    """Alert on the handheld within 2 s (full screen for a critical one), acknowledged in
    one tap, the wall shows who acknowledged; after a network drop the page reconnects by
    itself and shows the alert it missed; arrived and resolved with a note."""
    from playwright.sync_api import expect

    errors: list[str] = []
    with chromium() as browser:
        node = FakeNode(mqtt_broker.port, "gw-1")
        try:
            phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                        has_touch=True, locale="zh-CN")
            guard = phone.new_page()
            collect_errors(guard, errors, "guard")
            log_in(guard, f"{server}/guard", "g1", USER_PASSWORD)
            guard.click("#start-button")
            expect(guard.locator("#conn")).to_have_attribute("data-status", "live",
                                                             timeout=10_000)
            expect(guard.locator("#shift")).to_contain_text("候问室")

            desk = browser.new_context(viewport={"width": 1920, "height": 1080},
                                       locale="zh-CN")
            wall = desk.new_page()
            collect_errors(wall, errors, "wall")
            log_in(wall, f"{server}/", "duty1", USER_PASSWORD)
            expect(wall.locator("#conn")).to_have_attribute("data-status", "live",
                                                            timeout=10_000)

            node.birth()
            for door in ("door-holding-1", "panic-holding-1"):
                node.device_birth(door, door.split("-")[0], {})
            started = time.monotonic()
            node.event("door-holding-1", "door_forced", metrics={"forced": True, "open": True})

            alert = guard.locator('li.alert[data-rule="door_forced"][data-zone="holding-1"]')
            expect(alert).to_be_visible(timeout=2_000)
            print(f"\nguard page alert {time.monotonic() - started:.3f} s after the event")
            flash = guard.locator("#flash")
            expect(flash).to_be_visible()  # critical: full screen until acknowledged
            expect(flash.locator(".flash-rule")).to_have_text("门被强行打开")
            expect(alert).to_have_attribute("data-step", "seen")  # receipts went back
            guard.screenshot(path=artifact("guard-alert.png"))

            guard.click("#flash-ack")
            expect(flash).to_be_hidden()
            expect(alert).to_have_attribute("data-state", "active_acked")
            expect(alert.locator(".acked-by")).to_have_text("g1")

            row = wall.locator('#alarm-list li.alarm[data-rule="door_forced"]'
                               '[data-zone="holding-1"]')
            expect(row).to_have_attribute("data-state", "active_acked")
            expect(row.locator(".alarm-acked-by")).to_have_text("g1")
            wall.screenshot(path=artifact("wall-acked-by-guard.png"))

            # Wi-Fi drop: an alert raised meanwhile shows up, flagged, once back online.
            phone.set_offline(True)
            expect(guard.locator("#conn")).not_to_have_attribute("data-status", "live")
            node.event("panic-holding-1", "panic_pressed", metrics={"pressed": True})
            expect(wall.locator('#alarm-list li.alarm[data-rule="panic_button"]')
                   ).to_be_visible()
            phone.set_offline(False)
            expect(guard.locator("#conn")).to_have_attribute("data-status", "live",
                                                             timeout=15_000)
            missed = guard.locator('li.alert[data-rule="panic_button"]')
            expect(missed).to_have_class(re.compile(r"\bmissed\b"))
            expect(guard.locator("#missed")).to_be_visible()
            expect(guard.locator("#flash .flash-rule")).to_have_text("紧急报警按钮")
            guard.click("#flash-ack")  # acknowledging the missed alert clears the banner
            expect(missed).to_have_attribute("data-state", "active_acked")
            expect(guard.locator("#missed")).to_be_hidden()

            # Arrived, then resolved with a note, on the door alert.
            alert.locator('button[data-step="arrived"]').click()
            expect(alert).to_have_attribute("data-step", "arrived")
            alert.locator("textarea.note").fill("门已重新上锁")
            alert.locator('button[data-step="resolved"]').click()
            expect(alert).to_have_attribute("data-step", "resolved")
            guard.screenshot(path=artifact("guard-resolved.png"))

            # The wall: a comment and a shelve with a reason; a panic alarm is never shelved.
            row.locator('button[data-act="comment"]').click()
            row.locator('form[data-form="comment"] input').fill("锁匠已联系")
            row.locator('form[data-form="comment"] button[type=submit]').click()
            expect(row.locator(".alarm-comment")).to_contain_text("锁匠已联系")
            row.locator('button[data-act="shelve"]').click()
            row.locator('form[data-form="shelve"] input').fill("门锁维修中")
            row.locator('form[data-form="shelve"] button[type=submit]').click()
            expect(row.locator(".alarm-shelved")).to_contain_text("门锁维修中")
            expect(row).to_have_class(re.compile(r"\bshelved\b"))
            expect(row).not_to_contain_text("null")
            panic_row = wall.locator('#alarm-list li.alarm[data-rule="panic_button"]')
            panic_row.locator('button[data-act="shelve"]').click()
            panic_row.locator('form[data-form="shelve"] input').fill("测试")
            panic_row.locator('form[data-form="shelve"] button[type=submit]').click()
            expect(panic_row.locator(".alarm-error")).to_contain_text("may not be shelved")
            wall.screenshot(path=artifact("wall-shelved.png"))

            # The supervisor's reports: KPIs of what just happened, and the audit chain.
            office = browser.new_context(viewport={"width": 1440, "height": 900},
                                         locale="zh-CN")
            reports = office.new_page()
            collect_errors(reports, errors, "reports")
            log_in(reports, f"{server}/reports", "admin", PASSWORD)
            expect(reports.locator("#tiles .tile")).to_have_count(8)
            expect(reports.locator('.console[data-console="duty-desk"] svg.chart rect')
                   ).not_to_have_count(0)
            expect(reports.locator("#top tbody tr")).to_have_count(2)
            reports.click("#verify")
            expect(reports.locator("#verify-result")).to_have_class(re.compile(r"\bok\b"))
            expect(reports.locator("#audit")).to_contain_text("alarm_shelve")
            reports.screenshot(path=artifact("reports.png"), full_page=True)

            registered = guard.evaluate(
                "navigator.serviceWorker.ready.then(r => r.scope)")
            assert registered.endswith("/guard"), registered  # the PWA's service worker
        finally:
            node.close()
    manifest = httpx.get(f"{server}/guard/manifest.webmanifest", timeout=30).json()
    assert manifest["start_url"] == "/guard" and manifest["display"] == "standalone"
    assert not errors, errors
