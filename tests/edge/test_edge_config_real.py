"""``simulated: false`` edge configs: the ``devices:`` entries checked against the site (errors
naming file, line and field), and the real camera driver run from an edge config against a
simulated MJPEG camera over a real Mosquitto."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from edge.config import load_edge_config
from edge.drivers.camera import CameraDriver
from edge.drivers.recorder import RecorderDriver
from edge.drivers.simulated import SimulatedDriver
from edge.main import drivers_for, serve
from protocol.config import ConfigError
from protocol.messages import DeviceBirth, DeviceData
from simulators.devices.cameras import CameraServer
from tests.edge.conftest import watching

INTERVIEW_CAMERAS = ["interrogation-1", "interrogation-2", "interrogation-3", "interrogation-4",
                     "inquiry-1", "inquiry-2", "juvenile-1", "lawyer-1"]
INTERVIEW_RECORDERS = INTERVIEW_CAMERAS[:-1]  # the lawyer's room has no recorder


def _complete_devices() -> str:
    lines = [f"  camera-{z}: {{url: 'rtsp://u:pw@192.0.2.1/{z}'}}\n" for z in INTERVIEW_CAMERAS]
    lines += [f"  recorder-{z}: {{url: 'http://192.0.2.2/{z}'}}\n" for z in INTERVIEW_RECORDERS]
    return "".join(lines)


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "edge.yaml"
    path.write_text(f"site: reference\nnode: edge-interview\nstate_dir: {tmp_path / 's'}\n"
                    + body)
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_edge_config(path)
    return caught.value.lines


def test_complete_real_config_builds_real_and_simulated_drivers(tmp_path: Path) -> None:
    """Every camera and recorder listed, readers kept simulated: cameras get CameraDriver
    (with the entry's sampling override), recorders RecorderDriver, readers simulated."""
    path = _write(tmp_path, "simulated: false\nsimulated_profiles: [reader]\ndevices:\n"
                  + _complete_devices().replace(
                      "camera-lawyer-1: {url: 'rtsp://u:pw@192.0.2.1/lawyer-1'}",
                      "camera-lawyer-1: {url: 0, sample_fps: 1}"))
    drivers = {d.id: d for d in drivers_for(load_edge_config(path))}
    assert isinstance(drivers["camera-interrogation-1"], CameraDriver)
    assert isinstance(drivers["recorder-juvenile-1"], RecorderDriver)
    assert isinstance(drivers["reader-inquiry-1"], SimulatedDriver)
    lawyer = drivers["camera-lawyer-1"]
    assert isinstance(lawyer, CameraDriver)
    assert lawyer.url == "0" and lawyer.th.sample_fps == 1
    camera = drivers["camera-interrogation-1"]
    assert isinstance(camera, CameraDriver)
    assert camera.values["stream_url"] == "rtsp://192.0.2.1/interrogation-1"  # no password


def test_simulated_true_keeps_every_driver_simulated(tmp_path: Path) -> None:
    """The default (simulated: true) builds simulated drivers even when devices are listed."""
    path = _write(tmp_path, "devices:\n  camera-lawyer-1: {url: 'rtsp://192.0.2.1/x'}\n")
    assert all(isinstance(d, SimulatedDriver) for d in drivers_for(load_edge_config(path)))


def test_device_entry_errors_name_file_line_and_field(tmp_path: Path) -> None:
    """An unknown device, another node's device, a reader, a missing url, a recorder with an
    RTSP URL and a camera-only key on a recorder: each one line ``file:line: field: …``, and
    a password in a bad URL is not echoed."""
    path = _write(tmp_path, "simulated: true\ndevices:\n"            # lines 4, 5
                  "  camera-nowhere: {url: 'rtsp://h/x'}\n"            # 6
                  "  camera-entrance: {url: 'rtsp://h/x'}\n"           # 7
                  "  reader-lawyer-1: {url: 'rtsp://h/x'}\n"           # 8
                  "  recorder-inquiry-1: {url: 'rtsp://u:secret@h/x'}\n"  # 9
                  "  recorder-inquiry-2: {url: 'http://h', sample_fps: 1}\n")  # 10
    lines = _problems(path)
    assert any(x.startswith(f"{path}:6: devices.camera-nowhere: no device") for x in lines)
    assert any(x.startswith(f"{path}:7: devices.camera-entrance: ") and "edge-intake" in x
               for x in lines)
    assert any(x.startswith(f"{path}:8: devices.reader-lawyer-1: ") and "is a reader" in x
               for x in lines)
    assert any(x.startswith(f"{path}:9: devices.recorder-inquiry-1.url: ") for x in lines)
    assert any(x.startswith(f"{path}:10: devices.recorder-inquiry-2.sample_fps: ")
               for x in lines)
    assert not any("secret" in x for x in lines)

    missing_url = _write(tmp_path, "devices:\n  camera-lawyer-1:\n    sample_fps: 1\n")
    assert _problems(missing_url) == [
        f"{missing_url}:5: devices.camera-lawyer-1.url: Field required"]  # the entry's line


def test_simulated_false_needs_every_entry_and_names_profiles_without_driver(
        tmp_path: Path) -> None:
    """simulated: false without entries names the missing cameras/recorders; readers without
    simulated_profiles are named as having no real driver yet; listing them fixes that."""
    path = _write(tmp_path, "simulated: false\n")
    lines = _problems(path)
    missing = next(x for x in lines if ": devices: " in x)
    assert "camera-lawyer-1" in missing and "recorder-interrogation-1" in missing
    no_driver = next(x for x in lines if x.startswith(f"{path}:4: simulated: "))
    assert "['reader']" in no_driver and "not available yet" in no_driver

    only_readers = _write(tmp_path, "simulated: false\ndevices:\n" + _complete_devices())
    assert _problems(only_readers) == [
        f"{only_readers}:4: simulated: real drivers for ['reader'] are not available yet "
        "(they come from the vendors' SDKs); list them in simulated_profiles to keep them "
        "simulated"]
    bad_list = _write(tmp_path, "simulated: false\nsimulated_profiles: [reader, search]\n"
                      "devices:\n" + _complete_devices())
    assert [x.split(": ")[0:2] for x in _problems(bad_list)] == [
        [f"{bad_list}:5", "simulated_profiles.1"]]


async def test_real_camera_from_edge_config_reports_fps_and_ok(
        mqtt_broker, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """An edge-common config with simulated: false reads a simulated MJPEG camera (with
    credentials in its URL) through the real driver: the camera's birth/data on Mosquitto
    carries fps > 0 and diagnosis ok, and the password is neither published nor logged."""
    caplog.set_level(logging.DEBUG)
    async with CameraServer("duty desk", fps=6.0) as camera:
        url = camera.url.replace("http://", "http://viewer:s3cret@")
        path = tmp_path / "edge.yaml"
        path.write_text(
            f"site: reference\nnode: edge-common\nbroker: {mqtt_broker.url}\n"
            f"state_dir: {tmp_path / 'state'}\nspeed: 4\nkeepalive_s: 5\n"
            "simulated: false\nsimulated_profiles: [reader]\ndevices:\n"
            f"  camera-duty-desk: {{url: '{url}'}}\n"
            f"  camera-corridor-a: {{url: '{camera.url}'}}\n"
            f"  camera-corridor-b: {{url: '{camera.url}'}}\n")
        setup = load_edge_config(path)
        stop = asyncio.Event()
        async with watching(mqtt_broker.port) as w:
            task = asyncio.create_task(serve(setup, stop), name="edge")
            try:
                seen = await w.wait_for(
                    lambda s: s.topic.device == "camera-duty-desk"
                    and isinstance(s.message, DeviceBirth | DeviceData)
                    and float(s.message.metrics.get("fps", 0) or 0) > 0
                    and s.message.metrics.get("diagnosis") == "ok", within_s=20)
            finally:
                stop.set()
                await asyncio.wait_for(task, 10)
        assert isinstance(seen.message, DeviceBirth | DeviceData)
        published = [str(s.message) for s in w.seen]
        assert not any("s3cret" in m for m in published)
        urls = {s.message.metrics["stream_url"] for s in w.seen
                if s.topic.device == "camera-duty-desk"
                and isinstance(s.message, DeviceBirth | DeviceData)
                and "stream_url" in s.message.metrics}
        assert urls == {camera.url}  # what the live view relays: credentials removed
    assert "s3cret" not in caplog.text
