"""The duty desk's monitoring wall in Debian's Chromium against the real server.

A private Mosquitto, ``custodywatch server`` as a subprocess, the page logged in through
its own form; an edge node is played with paho (births and a tag_enter from the holding
room's reader), so the alarm travels the whole way: MQTT → ingest → twin → rules → alarms
→ WebSocket → page.  The acknowledge button then goes back through the HTTP API.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest

from protocol.codec import encode, now_ms
from protocol.messages import DeviceBirth, DeviceDescriptor, DeviceEvent, EventKind, NodeBirth
from protocol.topics import DeviceMessage, NodeMessage, device_topic, node_topic
from tests.conftest import Broker
from tests.dashboards.support import (  # noqa: F401  (ARTIFACTS, CHROMIUM*: imported from here)
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    artifact,
    desk_page,
    log_in,
)
from tests.e2e.support import ServerProcess, server_process

pytestmark = pytest.mark.browser

PASSWORD = "wall-test-pw"
Server = ServerProcess  # the name this module's fixture has always yielded


@pytest.fixture
def server(mqtt_broker: Broker, tmp_path: Path) -> Iterator[Server]:
    """The real server (speed 60) on a free port, talking to the private broker; the
    admin's password is PASSWORD."""
    with server_process(tmp_path, mqtt_broker.url, 60, password=PASSWORD) as srv:
        yield srv


@pytest.fixture
def page(server: Server) -> Iterator[object]:
    """A 1920×1080 zh-CN page in Chromium; the test fails on any JavaScript error."""
    with desk_page() as pg:
        yield pg


class EdgeNode:
    """Just enough of an edge agent to announce one reader and report a tag."""

    def __init__(self, broker: Broker, site: str, node: str) -> None:
        self.site, self.node, self.seq = site, node, 0
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{node}")
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def _next(self) -> int:
        seq, self.seq = self.seq, self.seq + 1
        return seq

    def _publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def birth(self, devices: list[DeviceDescriptor]) -> None:
        msg = NodeBirth(ts=now_ms(), seq=self._next(), bdseq=0, kind="edge", devices=devices,
                        heartbeat_s=10)
        self._publish(node_topic(self.site, self.node, NodeMessage.BIRTH), encode(msg))

    def device_birth(self, device: str, profile: str, zone: str, metrics: dict) -> None:
        msg = DeviceBirth(ts=now_ms(), seq=self._next(), profile=profile, zone=zone,
                          metrics=metrics)
        self._publish(device_topic(self.site, self.node, device, DeviceMessage.BIRTH),
                      encode(msg))

    def event(self, device: str, kind: EventKind, data: dict) -> None:
        msg = DeviceEvent(ts=now_ms(), seq=self._next(), id=uuid.uuid4().hex, kind=kind,
                          data=data)
        self._publish(device_topic(self.site, self.node, device, DeviceMessage.EVENT),
                      encode(msg))

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def test_wall_shows_live_alarm_and_acknowledges_it(page, server: Server,
                                                   mqtt_broker: Broker) -> None:
    """Logging in through the page's form, a person in custody left alone in a holding room
    appears on the wall (alarm row within 2 s of the reader's event, zone in alarm with the
    suspect's badge), and one click on 确认 acknowledges it: the row then shows the
    acknowledged state and who acknowledged it (admin), pushed back over the WebSocket."""
    from playwright.sync_api import expect

    # No session yet: the login form, then the wall without a reload.
    log_in(page, server.url + "/", "admin", PASSWORD)
    expect(page.locator("#conn")).to_have_attribute("data-status", "live", timeout=10_000)
    expect(page.locator('g.zone[data-zone="holding-1"]')).to_have_attribute("data-status",
                                                                            "empty")

    headers = {"Authorization": f"Bearer {server.token()}"}
    r = httpx.post(f"{server.url}/api/custody", headers=headers, json={
        "person": "S1", "sex": "male", "age": 34, "case": "C-001",
        "custody": "criminal_summons"})
    assert r.status_code == 201, r.text

    edge = EdgeNode(mqtt_broker, "reference", "edge-holding")
    try:
        edge.birth([DeviceDescriptor(id="reader-holding-1", profile="reader",
                                     zone="holding-1")])
        edge.device_birth("reader-holding-1", "reader", "holding-1",
                          {"tags": [], "tag_count": 0})
        edge.event("reader-holding-1", "tag_enter", {"tag": "wb-S1"})

        # Alone in holding-1: unattended_person after 30 s site time (0.5 s at speed 60).
        row = page.locator('#alarm-list li.alarm[data-rule="unattended_person"]'
                           '[data-zone="holding-1"]')
        expect(row).to_be_visible(timeout=2_000)
        expect(row).to_have_attribute("data-state", "active_unacked")
        expect(row.locator(".alarm-rule")).to_have_text("无人看管")
        expect(row.locator(".alarm-subject")).to_have_text("S1")
        expect(page.locator('#alarm-list li.alarm[data-rule="search_skipped"]')).to_be_visible()

        zone = page.locator('g.zone[data-zone="holding-1"]')
        expect(zone).to_have_attribute("data-status", "alarm")
        expect(zone).to_have_class(re.compile(r"\bpulse\b"))
        expect(zone.locator('.badge.suspect[data-person="S1"]')).to_be_visible()
        expect(page.locator("#count-critical .count-n")).not_to_have_text("0")

        row.locator("button.ack").click()
        expect(row).to_have_attribute("data-state", "active_acked")
        expect(row.locator(".alarm-state")).to_have_text("已确认")
        expect(row.locator(".alarm-acked-by")).to_have_text("admin")
        expect(row.locator("button.ack")).to_have_count(0)

        # The zone's details card lists its devices with their live status.
        zone.click()
        card = page.locator("#zone-card")
        expect(card).to_have_attribute("data-zone", "holding-1")
        expect(card.locator('[data-device="reader-holding-1"]')).to_have_class(
            re.compile(r"\bdev-online\b"))

        page.screenshot(path=artifact("wall.png"))

        # English is one click away and every label follows.
        page.click('button[data-lang="en"]')
        expect(row.locator(".alarm-rule")).to_have_text("Person unattended")
        expect(row.locator(".alarm-state")).to_have_text("Acknowledged")
    finally:
        edge.close()
