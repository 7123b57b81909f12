"""The technicians' device page (/devices) in Debian's Chromium against the real server.

A private Mosquitto and ``custodywatch server`` as a subprocess (at speed 1, so that the
devices announced here stay online for the length of a test); the gateway node ``gw-1`` and
the edge node ``edge-holding`` are played with paho over the real broker: births with the
Modbus gateway's error counters, telemetry, a DeviceLost as a node sends it when a device
stops answering, and the node's answers to the commands the page sends.  The page is driven
as a technician would: logged in through its own form, with clicks and typing.
"""

from __future__ import annotations

import inspect
import queue
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import server.service
from protocol.codec import decode, encode, now_ms, verify_command
from protocol.messages import (
    Command,
    CommandResult,
    CommandStatus,
    DeviceData,
    DeviceDescriptor,
    DeviceLost,
)
from protocol.profiles import load_profiles
from protocol.reasons import lost_info
from protocol.site import load_site
from protocol.topics import DeviceMessage, NodeMessage, device_topic, node_topic
from tests.conftest import Broker
from tests.dashboards.support import artifact, desk_page, log_in
from tests.dashboards.test_wall_page import EdgeNode
from tests.e2e.support import ServerProcess, server_process

pytestmark = pytest.mark.browser

SITE = "reference"
REFERENCE = load_site(SITE, load_profiles())
TECH, DUTY, USER_PASSWORD = "tech1", "duty1", "device-page-pw"
MODBUS = {"modbus_errors_timeout": 3, "modbus_errors_unreachable": 1,
          "modbus_errors_exception": 0, "modbus_errors_bad_response": 2,
          "modbus_errors_out_of_range": 4, "modbus_errors_internal": 0,
          "modbus_last_error": "out_of_range: temperature 912.0 outside [-40, 85]"}
BIRTH_METRICS: dict[str, dict[str, Any]] = {
    "door": {"open": False, "locked": True, "forced": False},
    "panic": {"pressed": False},
    "env": {"temperature": 22.5, "humidity": 45.0},
    "smoke": {"smoke": False},
    "lockers": {},
    "reader": {"tags": [], "tag_count": 0},
    "camera": {"diagnosis": "ok", "fps": 10.0},
}


def _relays_command_results() -> bool:
    """Whether the server pushes a node's CommandResult to the dashboards (the page shows
    it); until it does, only the sending half of the command test can run."""
    return "command_result" in inspect.getsource(server.service)


@pytest.fixture
def live_server(mqtt_broker: Broker, tmp_path: Path) -> Iterator[ServerProcess]:
    """The real server at speed 1 (real heartbeats: a device announced here is not stale
    within 25 s) on a free port, talking to the private broker; users tech1 and duty1."""
    with server_process(tmp_path, mqtt_broker.url, 1) as srv, srv.client() as admin:
        for name, role in ((TECH, "tech"), (DUTY, "duty")):
            r = admin.post("/api/users", json={"username": name, "password": USER_PASSWORD,
                                               "role": role})
            assert r.status_code == 201, r.text
        yield srv


@pytest.fixture
def browser_page(live_server: ServerProcess) -> Iterator[Any]:
    """A 1920×1080 zh-CN page in Chromium; the test fails on any JavaScript error."""
    with desk_page() as pg:
        yield pg


class SiteNode(EdgeNode):
    """One node of the reference site with all its devices, answering commands as an edge
    agent or the gateway does (edge/agent.py): a CommandResult on the node's result topic."""

    def __init__(self, broker: Broker, node: str) -> None:
        super().__init__(broker, SITE, node)
        self.commands: queue.Queue[bytes] = queue.Queue()
        topic = node_topic(SITE, node, NodeMessage.CMD)
        self.client.message_callback_add(topic, lambda c, u, m: self.commands.put(m.payload))
        self.client.subscribe(topic, qos=1)
        self.devices = REFERENCE.devices_of(node)

    def announce(self, metrics: dict[str, dict[str, Any]] | None = None) -> None:
        """Node birth, then every device's birth (``metrics`` by device id, added to the
        profile's usual values)."""
        self.birth([DeviceDescriptor(id=d.id, profile=d.profile, zone=d.zone)
                    for d in self.devices])
        for d in self.devices:
            self.device_birth(d.id, d.profile, d.zone,
                              {**BIRTH_METRICS.get(d.profile, {}), **(metrics or {}).get(d.id, {})})

    def data(self, device: str, metrics: dict[str, Any]) -> None:
        self._publish(device_topic(SITE, self.node, device, DeviceMessage.DATA),
                      encode(DeviceData(ts=now_ms(), seq=self._next(), metrics=metrics)))

    def lost(self, device: str, reason: str, info: dict[str, Any] | None = None) -> None:
        self._publish(device_topic(SITE, self.node, device, DeviceMessage.LOST),
                      encode(DeviceLost(ts=now_ms(), seq=self._next(), reason=reason,
                                        info=info)))

    def next_command(self, key: bytes, within: float = 10.0) -> Command:
        """The next command the server sent to this node, its signature checked."""
        command = decode(self.commands.get(timeout=within), Command)
        verify_command(command, key)
        return command

    def answer(self, command_id: str, status: CommandStatus, detail: str = "") -> None:
        self._publish(node_topic(SITE, self.node, NodeMessage.RESULT),
                      encode(CommandResult(ts=now_ms(), seq=self._next(), id=command_id,
                                           status=status, detail=detail)))


@pytest.fixture
def gateway(mqtt_broker: Broker, live_server: ServerProcess) -> Iterator[SiteNode]:
    node = SiteNode(mqtt_broker, "gw-1")
    try:
        yield node
    finally:
        node.close()


def _login(page: Any, srv: ServerProcess, username: str) -> None:
    from playwright.sync_api import expect

    log_in(page, srv.url + "/devices", username, USER_PASSWORD)
    expect(page.locator("#conn")).to_have_attribute("data-status", "live", timeout=10_000)


def _api(srv: ServerProcess, path: str) -> Any:
    with srv.client() as admin:
        r = admin.get(path)
    r.raise_for_status()
    return r.json()


def _wait_api(srv: ServerProcess, path: str, check: Any, what: str,
              within: float = 5.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = _api(srv, path)
        if check(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {value}")
        time.sleep(0.05)


def _status_counts(devices: list[dict[str, Any]]) -> dict[str, int]:
    """By the page's statuses: the API's four, and "unknown" (never heard of: the API says
    offline, with link_status unknown)."""
    counts: dict[str, int] = {}
    for d in devices:
        assert d["status"] in ("online", "offline", "stale", "maintenance"), d  # CONTRACT.md
        shown = "unknown" if d["status"] == "offline" and d["link_status"] == "unknown" \
            else d["status"]
        counts[shown] = counts.get(shown, 0) + 1
    return counts


def test_page_lists_devices_live_with_reasons_and_modbus_counters(
        browser_page: Any, live_server: ServerProcess, gateway: SiteNode,
        mqtt_broker: Broker) -> None:
    """Every device of the site is listed with the same counts by status as GET
    /api/devices; a device the gateway declares lost turns offline on the page with the
    node's reason within seconds, without a reload; the detail shows the gateway's Modbus
    error counters in full, all metrics and the recent samples (with a sparkline); the
    filters, the search and the ticking "last seen" work; English is one click away."""
    from playwright.sync_api import expect

    page, srv = browser_page, live_server
    gateway.announce({"env-holding-1": MODBUS})
    cameras = SiteNode(mqtt_broker, "edge-holding")
    try:
        cameras.announce({"camera-holding-2": {"diagnosis": "frozen"}})
        expected = _wait_api(srv, "/api/devices", lambda ds: _status_counts(ds).get("online", 0)
                             == len(gateway.devices) + len(cameras.devices), "the births")
        _login(page, srv, TECH)

        # The whole site, and the counts of the API.
        rows = page.locator("#device-rows tr.device-row")
        expect(rows).to_have_count(len(expected))
        counts = _status_counts(expected)
        expect(page.locator('[data-count="all"] .count-n')).to_have_text(str(len(expected)))
        for status in ("online", "offline", "stale", "maintenance", "unknown"):
            expect(page.locator(f'[data-count="{status}"] .count-n')).to_have_text(
                str(counts.get(status, 0)))
        assert counts["unknown"] > 0  # the nodes not played here: never seen

        door = page.locator('tr[data-device="door-holding-1"]')
        expect(door.locator(".dev-zone")).to_have_text("候问室1")
        expect(door.locator(".dev-profile")).to_have_text("门禁")
        expect(door.locator(".dev-node")).to_have_text("gw-1")
        expect(door.locator(".status-pill")).to_have_text("在线")
        env = page.locator('tr[data-device="env-holding-1"]')
        expect(env.locator('[data-metric="modbus"]')).to_have_text("通信错误 10")
        expect(page.locator('tr[data-device="camera-holding-2"] [data-metric="diagnosis"]')) \
            .to_have_text("画面冻结")

        # "Last seen" ticks on its own.
        seen = env.locator(".dev-seen")
        expect(seen).to_have_text(re.compile(r"^\d+秒前$"))
        first = seen.text_content()
        expect(seen).not_to_have_text(first or "", timeout=3_000)

        # The gateway loses a device: offline with the node's reason, live, worded in the
        # page's language from the loss's info (protocol/reasons.py).
        reason = "no answer within 250 ms (read input 0..1)"
        gateway.lost("door-holding-2", reason,
                     lost_info("timeout", ms=250, request="read input 0..1"))
        reason_zh = "250 毫秒内无应答 (read input 0..1)"
        lost = page.locator('tr[data-device="door-holding-2"]')
        expect(lost).to_have_attribute("data-status", "offline", timeout=3_000)
        expect(lost.locator(".lost-reason")).to_have_text(f"节点报告设备丢失: {reason_zh}")
        expect(page.locator('[data-count="offline"] .count-n')).to_have_text(
            str(counts.get("offline", 0) + 1))
        detail = _api(srv, "/api/devices/door-holding-2")
        assert detail["status"] == "offline" and detail["lost_cause"] == "device_lost"
        assert detail["lost_reason"] == reason
        assert detail["lost_text"] == {"zh": reason_zh, "en": reason}
        assert [c["name"] for c in detail["commands"]] == ["unlock", "lock", "reset_alarm"]

        # Telemetry for the samples, then the detail of the device with the counters.
        for t in (22.5, 23.0, 24.5, 23.5):
            gateway.data("env-holding-1", {"temperature": t, "humidity": 44.0})
            time.sleep(0.05)
        _wait_api(srv, "/api/devices/env-holding-1/samples", lambda s: len(s) >= 5, "samples")
        env.click()
        panel = page.locator("#detail")
        expect(panel).to_have_attribute("data-device", "env-holding-1")
        modbus = panel.locator(".sec-modbus")
        for kind, n in (("timeout", 3), ("unreachable", 1), ("exception", 0),
                        ("bad_response", 2), ("out_of_range", 4), ("internal", 0)):
            expect(modbus.locator(f'[data-kind="{kind}"] .counter-n')).to_have_text(str(n))
        expect(modbus.locator('[data-kind="timeout"] .counter-label')).to_have_text("超时")
        expect(modbus.locator(".modbus-last")).to_contain_text(MODBUS["modbus_last_error"])
        temperature = panel.locator('.sec-metrics tr[data-metric="temperature"] td')
        expect(temperature).to_have_text("23.50 °C")
        expect(panel.locator('.spark[data-metric="temperature"]')).to_be_visible()
        expect(panel.locator(".sec-samples table.samples tbody tr")).to_have_count(5)
        expect(panel.locator(".sec-commands")).to_contain_text("该类型设备没有远程命令")

        # Filters and search narrow the table; the counts stay those of the whole site.
        page.select_option("#f-profile", "door")
        expect(rows).to_have_count(sum(1 for d in expected if d["profile"] == "door"))
        page.fill("#search", "holding-2")
        expect(rows).to_have_count(1)
        expect(rows.first).to_have_attribute("data-device", "door-holding-2")
        page.click("#clear-filters")
        page.click('[data-count="offline"]')
        expect(rows).to_have_count(counts.get("offline", 0) + 1)
        page.click('[data-count="all"]')
        expect(rows).to_have_count(len(expected))
        # Sorting: offline first by default; by id, both ways.
        expect(rows.first).to_have_attribute("data-status", "offline")
        ids = sorted(d["id"] for d in expected)
        page.click('th[data-sort="id"]')
        expect(rows.first).to_have_attribute("data-device", ids[0])
        page.click('th[data-sort="id"]')
        expect(rows.first).to_have_attribute("data-device", ids[-1])
        expect(page.locator('[data-count="all"] .count-n')).to_have_text(str(len(expected)))

        page.locator('tr[data-device="door-holding-2"]').click()
        expect(panel.locator(".sec-status")).to_contain_text(reason_zh)
        page.screenshot(path=artifact("devices.png"))

        page.click('button[data-lang="en"]')
        expect(lost.locator(".status-pill")).to_have_text("Offline")
        expect(lost.locator(".lost-reason")).to_have_text(f"lost, reported by its node: {reason}")
        expect(panel.locator(".sec-maintenance h3")).to_have_text("Maintenance mode")
    finally:
        cameras.close()


def test_maintenance_on_and_off_from_the_page(browser_page: Any,
                                              live_server: ServerProcess,
                                              gateway: SiteNode) -> None:
    """A technician puts a device in maintenance with a reason through the page: GET
    /api/devices says ``maintenance`` and the row follows; ending it brings ``online``
    back.  Without a reason nothing is sent."""
    from playwright.sync_api import expect

    page, srv = browser_page, live_server
    gateway.announce()
    _wait_api(srv, "/api/devices", lambda ds: any(
        d["id"] == "door-holding-1" and d["status"] == "online" for d in ds), "the door")
    _login(page, srv, TECH)
    row = page.locator('tr[data-device="door-holding-1"]')
    row.click()
    panel = page.locator("#detail .sec-maintenance")
    expect(panel.locator(".maint-state")).to_have_text("未处于维护模式")

    panel.locator("button.maint-on").click()  # no reason: refused on the page
    expect(panel.locator(".action-error")).to_have_text("请填写维护原因")
    assert _api(srv, "/api/maintenance") == []

    panel.locator("input.maint-reason-input").fill("更换门磁")
    panel.locator("button.maint-on").click()
    expect(row).to_have_attribute("data-status", "maintenance")
    expect(panel.locator(".maint-entry .maint-reason")).to_have_text("更换门磁")
    expect(panel.locator(".maint-entry")).to_contain_text(TECH)
    expect(page.locator('[data-count="maintenance"] .count-n')).to_have_text("1")
    device = next(d for d in _api(srv, "/api/devices") if d["id"] == "door-holding-1")
    assert device["status"] == "maintenance"
    assert [(e["target"], e["reason"], e["by"]) for e in _api(srv, "/api/maintenance")] == [
        ("door-holding-1", "更换门磁", TECH)]

    panel.locator("button.maint-off").click()
    expect(row).to_have_attribute("data-status", "online")
    expect(panel.locator(".maint-state")).to_have_text("未处于维护模式")
    device = next(d for d in _api(srv, "/api/devices") if d["id"] == "door-holding-1")
    assert device["status"] == "online"
    assert _api(srv, "/api/maintenance") == []


@pytest.mark.skipif(not _relays_command_results(),
                    reason="the server does not yet push a node's CommandResult to the "
                           "dashboards (server/service.py)")
def test_commands_from_the_page_show_their_results(browser_page: Any,
                                                   live_server: ServerProcess,
                                                   gateway: SiteNode) -> None:
    """A command sent from the page reaches the node signed with the site's key and shows
    "pending" until the node answers; the answer (done, or refused with the node's
    reason) then shows on the page of the technician who sent it.  A dangerous command
    (unlock) asks for confirmation and carries its parameter."""
    from playwright.sync_api import expect

    page, srv = browser_page, live_server
    key = (srv.data_dir / "command.key").read_bytes().strip()
    gateway.announce()
    _wait_api(srv, "/api/devices", lambda ds: any(
        d["id"] == "door-holding-1" and d["status"] == "online" for d in ds), "the door")
    _login(page, srv, TECH)
    page.locator('tr[data-device="door-holding-1"]').click()
    commands = page.locator("#detail .sec-commands")
    expect(commands.locator("form.cmd")).to_have_count(3)

    commands.locator('form[data-command="reset_alarm"] button.cmd-send').click()
    sent = gateway.next_command(key)
    assert (sent.name, sent.device) == ("reset_alarm", "door-holding-1")
    entry = commands.locator(f'li.cmd-entry[data-id="{sent.id}"]')
    expect(entry).to_have_attribute("data-status", "pending")
    expect(entry.locator(".cmd-status")).to_have_text("等待结果")
    gateway.answer(sent.id, "done")
    expect(entry).to_have_attribute("data-status", "done", timeout=3_000)
    expect(entry.locator(".cmd-status")).to_have_text("已完成")

    dialogs: list[str] = []
    page.once("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    unlock = commands.locator('form[data-command="unlock"]')
    unlock.locator('input[name="duration_s"]').fill("5")
    unlock.locator("button.cmd-send").click()
    sent = gateway.next_command(key)
    assert (sent.name, dict(sent.params)) == ("unlock", {"duration_s": 5})
    assert dialogs and "door-holding-1" in dialogs[0]
    gateway.answer(sent.id, "refused", "door open: will not unlock")
    entry = commands.locator(f'li.cmd-entry[data-id="{sent.id}"]')
    expect(entry).to_have_attribute("data-status", "refused", timeout=3_000)
    expect(entry.locator(".cmd-status")).to_have_text("被拒绝")
    expect(entry.locator(".cmd-detail")).to_have_text("door open: will not unlock")
    # A result for a command this page did not send changes nothing here.
    gateway.answer(uuid.uuid4().hex, "done")
    expect(commands.locator("li.cmd-entry")).to_have_count(2)


def test_page_needs_a_session_and_controls_need_the_tech_role(
        browser_page: Any, live_server: ServerProcess) -> None:
    """Without a session the page shows only the login form and the APIs it reads answer
    401; a duty officer signed in sees the devices but cannot change maintenance or send
    commands (the controls are disabled and say which role is needed)."""
    from playwright.sync_api import expect

    page, srv = browser_page, live_server
    for path in ("/api/devices", "/api/device-details", "/api/devices/door-holding-1",
                 "/api/devices/door-holding-1/samples"):
        assert httpx.get(srv.url + path).status_code == 401, path
    page.goto(srv.url + "/devices")
    expect(page.locator(".login-overlay")).to_be_visible()
    expect(page.locator("#device-rows tr")).to_have_count(0)

    page.fill("input[name=username]", DUTY)
    page.fill("input[name=password]", USER_PASSWORD)
    page.click(".login-card button[type=submit]")
    expect(page.locator(".login-overlay")).to_have_count(0)
    expect(page.locator("#device-rows tr.device-row")).to_have_count(len(REFERENCE.devices()))
    page.locator('tr[data-device="door-holding-1"]').click()
    panel = page.locator("#detail")
    expect(panel.locator("button.maint-on")).to_be_disabled()
    expect(panel.locator('form[data-command="lock"] button.cmd-send')).to_be_disabled()
    expect(panel.locator(".sec-maintenance")).to_contain_text("需要运维 (tech) 权限")
    with srv.client(TECH, USER_PASSWORD) as tech:
        assert tech.get("/api/devices/nope").status_code == 404

    # Signing out ends the session (the APIs answer 401 in this browser) and asks for a
    # login; the technician signing in gets the controls, the table live again.
    page.click("#logout")
    expect(page.locator(".login-overlay")).to_be_visible()
    assert page.evaluate("fetch('/api/devices').then((r) => r.status)") == 401
    page.fill("input[name=username]", TECH)
    page.fill("input[name=password]", USER_PASSWORD)
    page.click(".login-card button[type=submit]")
    expect(page.locator(".login-overlay")).to_have_count(0)
    expect(page.locator("#device-rows tr.device-row")).to_have_count(len(REFERENCE.devices()))
    expect(panel.locator("button.maint-on")).to_be_enabled()  # (still selected)
