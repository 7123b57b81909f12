"""Why a device was lost, in the alarm's language: a DeviceLost's ``info`` (protocol/reasons.py)
stored by the twin and rendered in Chinese and English by device_offline, camera_fault and
recording_not_running; an older node's reason (no info) or a malformed info falls back to the
English reason (a malformed one counted), never a crash.  First on a virtual clock, then end
to end: a real edge agent with the real camera and recorder drivers, and a paho client
speaking for the gateway, over Mosquitto to a real server."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from edge.agent import EdgeAgent
from edge.drivers.base import Availability, Driver
from edge.drivers.camera import CameraDriver
from edge.drivers.recorder import RecorderDriver
from edge.drivers.simulated import SimulatedDriver, SimulatedReader, make_simulated_driver
from protocol import topics
from protocol.codec import now_ms
from protocol.messages import DeviceLost
from protocol.reasons import lost_info
from protocol.topics import DeviceMessage
from tests.conftest import Broker, free_port
from tests.edge.conftest import agent_options, watching
from tests.server.test_api_support import (
    COMMAND_KEY,
    FakeNode,
    running_server,
    wait_until,
)
from tests.server.test_rules_support import PROFILES, SITE, Floor

CAMERA = "camera-interrogation-1"
RECORDER = "recorder-interrogation-1"
REFUSED = lost_info("no_signal", cause="connection_refused")
UNREACHABLE = lost_info("unreachable", host="192.0.2.31", port=80)


class LossFloor(Floor):
    """The rules' virtual floor, with losses that carry an info (or anything else)."""

    def lose_with(self, device_id: str, reason: str, info: Any) -> None:
        node = self._devices[device_id].node
        self._device_apply(device_id, DeviceMessage.LOST, DeviceLost(
            ts=self._ts(), seq=self._next_seq(node), reason=reason, info=info))


def _in_interview() -> LossFloor:
    """Everything born; S1 (searched) with officers O1, O2 in interrogation-1, now."""
    return LossFloor().in_interview()


def _latin_words(text: str, *allowed: str) -> list[str]:
    """English words in a message, leaving out ids, people and the given values."""
    for value in allowed:
        text = text.replace(value, "")
    words = re.findall(r"[A-Za-z][A-Za-z_\-0-9]*", text)
    return [w for w in words if not re.match(r"^(camera|recorder|door|reader)-|^S1$", w)]


def test_device_offline_words_the_info_in_each_language() -> None:
    """A recorder lost with an info: device_offline's Chinese message is Chinese throughout,
    the English one English; the details keep the reason and the info."""
    floor = LossFloor()
    floor.birth_everything()
    floor.at(5).lose_with(RECORDER, "cannot connect ([Errno 111] Connection refused)",
                          UNREACHABLE)
    v = floor.evaluate().active[("device_offline", RECORDER)]
    assert v.message_zh == f"讯问室1: 设备 {RECORDER} 失联 (无法连接 192.0.2.31:80)"
    assert _latin_words(v.message_zh, "192.0.2.31") == []
    assert v.message_en == f"Interrogation 1: device {RECORDER} lost (cannot connect to " \
                           "192.0.2.31:80)"
    assert v.details["lost_info"] == UNREACHABLE
    assert str(v.details["lost_reason"]).startswith("cannot connect ([Errno 111]")


def test_camera_lost_with_info_is_chinese_whatever_its_last_diagnosis() -> None:
    """A camera lost while its last diagnosis was ok (an older node's loss would show the
    English reason in Chinese then): with the DeviceLost's info both camera_fault and
    device_offline word the loss in each language."""
    floor = _in_interview()
    floor.at(5).set(CAMERA, diagnosis="ok", diagnosis_info='{"code":"measures","luma":130,'
                    '"spread":38,"blank":0.4,"sharpness":1.4,"cast":2.1}')
    floor.at(6).lose_with(CAMERA, "no signal: connection timed out",
                          lost_info("no_signal", cause="connection_timeout"))
    active = floor.evaluate().active
    fault = active[("camera_fault", CAMERA)]
    assert "离线 (无信号: 连接超时)" in fault.message_zh and _latin_words(fault.message_zh) == []
    assert "offline (no signal: connection timed out)" in fault.message_en
    offline = active[("device_offline", CAMERA)]
    assert offline.message_zh.endswith("失联 (无信号: 连接超时)")


def test_older_camera_loss_without_info_still_uses_its_diagnosis_info() -> None:
    """An older edge (no info in DeviceLost) that reported no_signal with its diagnosis
    info just before: device_offline words it in Chinese too, as camera_fault does."""
    floor = LossFloor()
    floor.birth_everything()
    floor.at(5).set(CAMERA, diagnosis="no_signal", diagnosis_info='{"code":"connection_refused"}')
    floor.at(5).lose(CAMERA, "no signal: connection refused")
    v = floor.evaluate().active[("device_offline", CAMERA)]
    assert v.message_zh.endswith("失联 (无信号: 连接被拒绝)")
    assert v.message_en.endswith("lost (no signal: connection refused)")


def test_recorder_offline_in_custody_says_why_in_each_language() -> None:
    """recording_not_running for a recorder its node lost: the status and why, in Chinese
    in the Chinese message; the English reason is kept in the details."""
    floor = _in_interview()
    floor.set(RECORDER, recording=True)
    floor.at(10).lose_with(RECORDER, "status API timed out",
                           lost_info("timeout", ms=3000, request="GET /api/status"))
    v = floor.at(41).evaluate().active[("recording_not_running", RECORDER)]
    assert f"审讯主机 {RECORDER} 离线或状态未知 (离线: 3000 毫秒内无应答 (GET /api/status))" \
        in v.message_zh
    assert _latin_words(v.message_zh, "GET /api/status") == []
    assert f"recorder {RECORDER} offline (offline: no answer within 3000 ms (GET " \
           "/api/status))" in v.message_en
    assert v.details["reason"] == "recorder_offline"
    assert v.details["lost_reason"] == "status API timed out"


@pytest.mark.parametrize("info", ["timeout", 7, [1, 2], {"ms": 3}, {"code": 7},
                                  {"code": "timeout", "ms": {"x": 1}},
                                  {"code": "timeout", "request": "x" * 1000}], ids=repr)
def test_malformed_info_falls_back_to_the_reason_and_is_counted(info: Any) -> None:
    """A malformed info does not cost the loss: the device is offline, device_offline is
    raised with the English reason in both messages, and the twin counts the bad field."""
    floor = LossFloor()
    floor.birth_everything()
    floor.at(5).lose_with("camera-holding-3", "rtsp timeout", info)
    assert floor.twin.devices["camera-holding-3"].status == "offline"
    assert floor.twin.devices["camera-holding-3"].lost_info is None
    v = floor.evaluate().active[("device_offline", "camera-holding-3")]
    assert v.message_zh == "候问室3: 设备 camera-holding-3 失联 (rtsp timeout)"
    assert v.message_en.endswith("lost (rtsp timeout)")
    assert floor.twin.bad_fields["lost_info"] == 1
    floor.at(6).lose_with("camera-holding-4", "rtsp timeout", info)
    assert floor.twin.bad_fields["lost_info"] == 2


def test_a_device_that_answers_again_is_no_longer_lost() -> None:
    """The next report clears the stored reason and info (a later node death does not
    word the old loss again); a loss without info after one with info has none."""
    floor = LossFloor()
    floor.birth_everything()
    floor.at(5).lose_with(RECORDER, "cannot connect", UNREACHABLE)
    floor.at(6).birth_device(RECORDER)
    device = floor.twin.devices[RECORDER]
    assert (device.status, device.lost_reason, device.lost_info) == ("online", "", None)
    floor.at(7).lose(RECORDER, "no answer")
    assert (device.lost_reason, device.lost_info) == ("no answer", None)


# ---------------------------------------------------------------------- the node side


class OwnAvailability(SimulatedDriver):
    """A driver with its own set_available that knows nothing of infos, as the Modbus
    gateway's (gateway/device.py) has."""

    def set_available(self, online: bool, reason: str = "") -> None:
        if online == self.online:
            return
        self.online, self.offline_reason = online, "" if online else reason
        self.emit(Availability(online, reason))


def test_set_lost_works_through_a_subclass_set_available_and_never_goes_stale() -> None:
    """Driver.set_lost (what the gateway is to call): the info goes with the loss even
    through a subclass's own set_available; a loss declared later without an info (the old
    way) carries none, not the previous one; while lost, set_lost updates what the next
    birth announces without a second Availability."""
    ref = next(d for d in SITE.devices() if d.id == "door-holding-3")
    driver = OwnAvailability(ref, PROFILES[ref.profile])
    updates: list[Any] = []
    driver.attach(lambda d, u: updates.append(u))
    timeout = lost_info("timeout", ms=300, request="read holding 0..9")
    driver.set_lost(timeout)
    assert [type(u) for u in updates] == [Availability] and not driver.online
    assert driver.offline_reason == "no answer within 300 ms (read holding 0..9)"
    assert driver.offline_info == timeout
    driver.set_lost(lost_info("unreachable", host="192.0.2.9", port=502), "refused")
    assert len(updates) == 1
    assert (driver.offline_reason, driver.offline_info) == (
        "refused", {"code": "unreachable", "host": "192.0.2.9", "port": 502})
    driver.set_available(True)
    driver.set_available(False, "no answer")
    assert (driver.offline_reason, driver.offline_info) == ("no answer", None)


# ---------------------------------------------------------------------- end to end


def _interview_drivers(camera_url: str, recorder_url: str, speed: float) -> list[Driver]:
    """edge-interview's drivers: the real camera and recorder drivers for interrogation-1,
    simulated ones for the rest."""
    drivers: list[Driver] = []
    for ref in SITE.devices_of("edge-interview"):
        profile = PROFILES[ref.profile]
        if ref.id == CAMERA:
            drivers.append(CameraDriver(ref, profile, camera_url, speed))
        elif ref.id == RECORDER:
            drivers.append(RecorderDriver(ref, profile, recorder_url, speed))
        else:
            drivers.append(make_simulated_driver(ref, profile))
    return drivers


@pytest.mark.e2e
@pytest.mark.usefixtures("server_credentials")
async def test_edge_losses_reach_the_alarms_in_chinese(tmp_path: Path,
                                                      mqtt_broker: Broker) -> None:
    """A real edge agent whose real camera and recorder drivers find nothing listening
    (connection refused): their DeviceLost carry an info, and the server's alarms on
    /api/alarms word the losses in Chinese — device_offline for both, and, with S1 in the
    room, camera_fault and recording_not_running."""
    speed = 10.0
    camera_port, recorder_port = free_port(), free_port()  # nothing listens on either
    drivers = _interview_drivers(f"http://127.0.0.1:{camera_port}/video.mjpg",
                                 f"http://127.0.0.1:{recorder_port}", speed)
    by_id = {d.id: d for d in drivers}
    camera, recorder = by_id[CAMERA], by_id[RECORDER]
    reader = by_id["reader-interrogation-1"]
    assert isinstance(camera, CameraDriver) and isinstance(recorder, RecorderDriver)
    assert isinstance(reader, SimulatedReader)
    options = agent_options(mqtt_broker.url, tmp_path / "edge", node="edge-interview",
                            speed=speed, command_key=COMMAND_KEY.encode())
    async with running_server(tmp_path / "server", mqtt_broker.url, speed=speed) as srv:
        intake = {"person": "S1", "sex": "male", "age": 34, "case": "C-001",
                  "custody": "criminal_summons"}
        assert (await srv.post("/api/custody", json=intake)).status_code == 201
        async with watching(mqtt_broker.port) as wire, camera, recorder, \
                EdgeAgent(options, drivers) as agent:
            await agent.wait_connected(15)
            reader.enter("wb-S1")

            async def alarms() -> dict[tuple[str, str], dict[str, Any]] | None:
                active = (await srv.get("/api/alarms", params={"active": "true"})).json()
                found = {(a["rule"], a["subject"]): a for a in active}
                wanted = {("device_offline", CAMERA), ("device_offline", RECORDER),
                          ("camera_fault", CAMERA), ("recording_not_running", RECORDER)}
                return found if wanted <= set(found) else None

            found = await wait_until(alarms, what="the four loss alarms", within=30)
    assert found is not None
    # What the camera's DeviceLost carried on the wire (the recorder's: its host and port).
    sent = {s.topic.device: s.message for s in wire.seen if isinstance(s.message, DeviceLost)}
    assert isinstance(sent[CAMERA], DeviceLost) and isinstance(sent[RECORDER], DeviceLost)
    assert sent[CAMERA].info == REFUSED
    assert sent[CAMERA].reason == "no signal: connection refused"
    assert sent[RECORDER].info == lost_info("unreachable", host="127.0.0.1", port=recorder_port)
    where = f"127.0.0.1:{recorder_port}"
    assert found[("device_offline", CAMERA)]["message_zh"] == \
        f"讯问室1: 设备 {CAMERA} 失联 (无信号: 连接被拒绝)"
    assert found[("device_offline", RECORDER)]["message_zh"] == \
        f"讯问室1: 设备 {RECORDER} 失联 (无法连接 {where})"
    assert found[("device_offline", RECORDER)]["message_en"].endswith(
        f"lost (cannot connect to {where})")
    fault = found[("camera_fault", CAMERA)]["message_zh"]
    assert "离线 (无信号: 连接被拒绝)" in fault and _latin_words(fault) == [], fault
    not_recording = found[("recording_not_running", RECORDER)]["message_zh"]
    assert f"(离线: 无法连接 {where})" in not_recording
    assert _latin_words(not_recording, where) == [], not_recording


@pytest.mark.e2e
@pytest.mark.usefixtures("server_credentials")
async def test_gateway_style_info_and_malformed_info_over_mqtt(tmp_path: Path,
                                                               mqtt_broker: Broker) -> None:
    """A paho client speaking for the Modbus gateway sends DeviceLost as the gateway will:
    a timeout with its info is worded in Chinese; another with a malformed info is still a
    loss, worded by its reason; the server keeps ingesting."""
    async with running_server(tmp_path, mqtt_broker.url) as srv:
        node = FakeNode(mqtt_broker.port, "gw-1")
        try:
            node.birth()

            def lose(device: str, reason: str, info: object) -> None:
                node.publish(topics.device_topic("reference", "gw-1", device,
                                                 DeviceMessage.LOST),
                             DeviceLost(ts=now_ms(), seq=node.next_seq(), reason=reason,
                                        info=info))

            lose("door-holding-3", "no answer within 300 ms (read holding 0..9)",
                 lost_info("timeout", ms=300, request="read holding 0..9"))
            lose("door-holding-4", "no answer within 300 ms (read holding 0..9)",
                 {"code": "timeout", "ms": [300]})

            async def alarms() -> dict[str, dict[str, Any]] | None:
                active = (await srv.get("/api/alarms", params={"active": "true"})).json()
                found = {a["subject"]: a for a in active if a["rule"] == "device_offline"}
                return found if {"door-holding-3", "door-holding-4"} <= set(found) else None

            found = await wait_until(alarms, what="both doors lost", within=15)
            assert found is not None
            assert found["door-holding-3"]["message_zh"] == \
                "候问室3: 设备 door-holding-3 失联 (300 毫秒内无应答 (read holding 0..9))"
            assert found["door-holding-4"]["message_zh"] == \
                "候问室4: 设备 door-holding-4 失联 (no answer within 300 ms (read holding 0..9))"
            assert (await srv.get("/healthz")).status_code == 200
            # The malformed info is counted where an operator looks.
            assert await srv.metric("custodywatch_bad_fields_total", field="lost_info") == 1
        finally:
            node.close()
