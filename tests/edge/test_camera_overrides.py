"""Per-camera threshold overrides in an edge config (edge/config.py ``thresholds:``): any
DiagnosticThresholds field for one camera, checked by the same model with errors naming
file, line and key (at load and by ``custodywatch check-config``), merged over the camera
profile's thresholds into the real camera driver, where they change what it diagnoses."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from edge.config import load_edge_config
from edge.drivers.base import Driver, DriverUpdate, MetricsChanged
from edge.drivers.camera import CameraDriver
from edge.main import drivers_for
from protocol.config import ConfigError
from protocol.profiles import load_profiles
from server.cli import main as cli
from simulators.devices.cameras import CameraServer

CAMERA_DEFAULTS = load_profiles()["camera"].thresholds


def _write(tmp_path: Path, devices: str, simulated: bool = True) -> Path:
    """An edge-interview config; ``devices`` is the body of ``devices:`` (from line 6 when
    ``simulated``, else from line 8)."""
    path = tmp_path / "edge.yaml"
    path.write_text("site: reference\nnode: edge-interview\n"            # 1, 2
                    f"state_dir: {tmp_path / 'state'}\nspeed: 4\n"      # 3, 4
                    + ("simulated: false\nsimulated_profiles: [reader, recorder]\n"
                       if not simulated else "")
                    + "devices:\n" + devices)
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_edge_config(path)
    return caught.value.lines


def _line(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_thresholds_and_shorthand_are_merged_over_the_profile_into_the_driver(
        tmp_path: Path) -> None:
    """``thresholds:`` with any field plus a shorthand key: the real camera driver built from
    the config diagnoses with the merged set (overridden keys from the entry, the rest from
    the profile), and a camera without overrides keeps the profile's."""
    path = _write(tmp_path, (
        "  camera-interrogation-1:\n"
        "    url: 'rtsp://u:pw@192.0.2.1/ir'\n"
        "    read_timeout_s: 7\n"
        "    thresholds:\n"
        "      black_luma: 8\n"
        "      dark_luma: 14\n"
        "      frozen_after_s: 9\n"
        "      analysis_width: 640\n"
        "  camera-interrogation-2: {url: 'rtsp://192.0.2.1/plain'}\n"), simulated=False)
    interview = [f"camera-{z}" for z in ("interrogation-3", "interrogation-4", "inquiry-1",
                                         "inquiry-2", "juvenile-1", "lawyer-1")]
    with path.open("a") as f:
        f.writelines(f"  {c}: {{url: 'rtsp://192.0.2.1/{c}'}}\n" for c in interview)
    drivers = {d.id: d for d in drivers_for(load_edge_config(path))}
    ir, plain = drivers["camera-interrogation-1"], drivers["camera-interrogation-2"]
    assert isinstance(ir, CameraDriver) and isinstance(plain, CameraDriver)
    assert (ir.th.black_luma, ir.th.dark_luma, ir.th.frozen_after_s, ir.th.analysis_width,
            ir.th.read_timeout_s) == (8, 14, 9, 640, 7)
    # The diagnoser runs on them: 9 site seconds at --speed 4 are 2.25 real seconds.
    assert ir.diagnoser.th is ir.th and ir.diagnoser.frozen_after_s == pytest.approx(2.25)
    untouched = set(type(ir.th).model_fields) - {"black_luma", "dark_luma", "frozen_after_s",
                                                 "analysis_width", "read_timeout_s"}
    assert all(getattr(ir.th, k) == getattr(plain.th, k) for k in untouched)
    assert plain.th.dark_luma == CAMERA_DEFAULTS.get("dark_luma", 45.0)


def test_bad_overrides_name_file_line_and_key(tmp_path: Path) -> None:
    """An unknown key, a value of the wrong type, one out of range, a NaN, a key given both
    as shorthand and in thresholds: all at once, each at its own line as
    ``devices.<camera>.thresholds.<key>``."""
    path = _write(tmp_path, (
        "  camera-interrogation-1:\n"                 # 6
        "    url: 'rtsp://u:secret@192.0.2.1/x'\n"    # 7
        "    sample_fps: 1\n"                         # 8
        "    thresholds:\n"                           # 9
        "      dark_lumma: 30\n"                      # 10
        "      frozen_after_s: soon\n"                # 11
        "      occluded_fraction: 1.5\n"              # 12
        "      blur_sharpness: .nan\n"                # 13
        "      sample_fps: 2\n"))                     # 14
    key = f"{path}:{{}}: devices.camera-interrogation-1.thresholds."
    lines = _problems(path)
    assert len(lines) == 5, lines
    assert any(x.startswith(key.format(10) + "dark_lumma: no such threshold; known: ")
               and "dark_luma" in x for x in lines), lines
    assert any(x.startswith(key.format(11) + "frozen_after_s: Input should be a valid number")
               for x in lines), lines
    assert key.format(12) + "occluded_fraction: Input should be less than or equal to 1 " \
        "(got 1.5)" in lines
    assert any(x.startswith(key.format(13) + "blur_sharpness: Input should be a finite number")
               for x in lines), lines
    assert key.format(14) + "sample_fps: given twice: here and as the entry's shorthand " \
        "sample_fps; keep one (got 2)" in lines
    assert not any("secret" in x for x in lines)


def test_orderings_are_checked_against_the_profile(tmp_path: Path) -> None:
    """The merged set must hold the model's orderings: an overridden dark_luma at or below
    the profile's black_luma is an error at the dark_luma line; a black_luma raised above
    the profile's dark_luma is one at the entry's ``thresholds`` (the clash is with a value
    the entry did not give); both moved together is fine."""
    path = _write(tmp_path, (
        "  camera-interrogation-1:\n"                         # 6
        "    url: 'rtsp://192.0.2.1/x'\n"                     # 7
        "    thresholds: {dark_luma: 10}\n"                   # 8
        "  camera-interrogation-2:\n"                         # 9
        "    url: 'rtsp://192.0.2.1/y'\n"                     # 10
        "    thresholds:\n"                                   # 11
        "      black_luma: 60\n"                              # 12
        "  camera-interrogation-3:\n"                         # 13
        "    url: 'rtsp://192.0.2.1/z'\n"                     # 14
        "    thresholds: {black_luma: 60, dark_luma: 80}\n"))  # 15
    lines = _problems(path)
    assert lines == [
        f"{path}:8: devices.camera-interrogation-1.thresholds.dark_luma: with the camera "
        "profile's thresholds: dark_luma: Value error, dark_luma (10) must be above "
        "black_luma (20): a picture darker than black_luma is already black (got 10.0)",
        f"{path}:11: devices.camera-interrogation-2.thresholds: with the camera profile's "
        "thresholds: dark_luma: Value error, dark_luma (45) must be above black_luma (60): "
        "a picture darker than black_luma is already black (got 45.0)"]


def test_thresholds_on_a_recorder_are_refused(tmp_path: Path) -> None:
    """Camera thresholds on a recorder entry: an error at its ``thresholds`` line."""
    path = _write(tmp_path, "  recorder-interrogation-1:\n    url: 'http://192.0.2.3'\n"
                  "    thresholds: {dark_luma: 30}\n")
    assert _problems(path) == [
        f"{path}:8: devices.recorder-interrogation-1.thresholds: only for cameras"]


def test_check_config_reports_override_errors(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """``custodywatch check-config`` exits 1 and prints the override's file:line: key; the
    corrected file is OK."""
    path = _write(tmp_path, "  camera-lawyer-1:\n    url: 'rtsp://192.0.2.1/x'\n"
                  "    thresholds:\n      stale_after_s: -3\n")
    assert cli(["check-config", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{path}:{_line(path, 'stale_after_s')}: devices.camera-lawyer-1.thresholds." \
           "stale_after_s: Input should be greater than 0 (got -3)" in err
    path.write_text(path.read_text().replace("stale_after_s: -3", "stale_after_s: 20"))
    assert cli(["check-config", str(path)]) == 0
    assert f"OK {path}" in capsys.readouterr().out


async def test_override_changes_what_the_real_driver_diagnoses(tmp_path: Path) -> None:
    """Two cameras from one edge config watch the same dim room (a simulated MJPEG camera,
    luma ~20): with the profile's thresholds it is ``dark``; the IR camera's own
    ``black_luma``/``dark_luma`` make the same picture ``ok``."""
    async with CameraServer("Holding", fps=6.0) as camera:
        await camera.inject("dark")
        others = [f"camera-{z}" for z in ("interrogation-3", "interrogation-4", "inquiry-1",
                                          "inquiry-2", "juvenile-1", "lawyer-1")]
        path = _write(tmp_path, (
            f"  camera-interrogation-1: {{url: '{camera.url}'}}\n"
            f"  camera-interrogation-2:\n    url: '{camera.url}'\n"
            "    thresholds: {black_luma: 10, dark_luma: 15}\n"
            + "".join(f"  {c}: {{url: 'rtsp://192.0.2.1/{c}'}}\n" for c in others)),
            simulated=False)
        drivers = {d.id: d for d in drivers_for(load_edge_config(path))}
        seen: dict[str, list[object]] = {"camera-interrogation-1": [],
                                         "camera-interrogation-2": []}
        got = asyncio.Event()

        def sink(driver: Driver, update: DriverUpdate) -> None:
            if isinstance(update, MetricsChanged) and "diagnosis" in update.metrics:
                seen[driver.id].append(update.metrics["diagnosis"])
                if all(any(d not in ("starting", None) for d in v) for v in seen.values()):
                    got.set()

        default, ir = drivers["camera-interrogation-1"], drivers["camera-interrogation-2"]
        assert isinstance(default, CameraDriver) and isinstance(ir, CameraDriver)
        for d in (default, ir):
            d.attach(sink)
        async with default, ir:
            await asyncio.wait_for(got.wait(), 20)
            await asyncio.sleep(1.0)  # a few more samples: the diagnoses hold
        assert default.metrics()["diagnosis"] == "dark", seen
        assert ir.metrics()["diagnosis"] == "ok", seen
        assert "dark" not in seen["camera-interrogation-2"]
