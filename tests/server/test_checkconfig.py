"""`custodywatch check-config`: good files pass, a wrong value is named by file, line, field."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.cli import main
from tests.conftest import REPO, SHARED

EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", [
    *EXAMPLES, REPO / "simulators" / "sites" / "reference.yaml",
    *sorted((REPO / "device_profiles").glob("*.yaml")),
    *sorted((SHARED / "scenarios").glob("*.yaml")),
], ids=lambda p: p.name)
def test_shipped_configs_are_valid(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every example, the bundled site, each profile and the shared scenarios check OK —
    so the examples in the repo never rot."""
    assert main(["check-config", str(path)]) == 0
    assert f"OK {path}" in capsys.readouterr().out


def test_bad_server_config_names_every_problem(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "server.yaml"
    bad.write_text("site: reference\nspeed: -1\nmqtt: {url: 'http://x'}\nhtp: {}\n")
    assert main(["check-config", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:2: speed: Input should be greater than 0 (got -1)" in err
    assert f"{bad}:3: mqtt.url:" in err and "mqtt://host:port" in err
    assert f"{bad}:4: htp: Extra inputs are not permitted" in err


def test_bad_profile_is_reported_and_good_files_still_checked(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    profile = tmp_path / "door.yaml"
    profile.write_text("id: door\nname: {zh: 门, en: Door}\nheartbeat_s: 0\nmetrics: {}\n")
    good = REPO / "examples" / "server.yaml"
    assert main(["check-config", str(profile), str(good)]) == 1
    captured = capsys.readouterr()
    assert f"{profile}:3: heartbeat_s: Input should be greater than 0" in captured.err
    assert f"OK {good}" in captured.out


def test_unreadable_and_invalid_yaml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("zones: [a, b\n")
    assert main(["check-config", str(broken), str(tmp_path / "missing.yaml")]) == 1
    err = capsys.readouterr().err
    assert "not valid YAML" in err and "missing.yaml" in err


def _camera_profile(tmp_path: Path, **changes: str) -> Path:
    """The bundled camera profile with some threshold lines replaced (``key: value``)."""
    text = (REPO / "device_profiles" / "camera.yaml").read_text()
    lines = text.splitlines()
    for key, value in changes.items():
        index = next(i for i, line in enumerate(lines) if line.startswith(f"  {key}:"))
        lines[index] = f"  {key}: {value}"
    path = tmp_path / "camera.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _line(path: Path, key: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1)
                if line.startswith(f"  {key}:"))


def test_camera_thresholds_out_of_range_are_named_by_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Negative durations, fractions above 1, a dark threshold not above the black one,
    a typo: each is a config error at its own file:line: thresholds.<name>."""
    path = _camera_profile(tmp_path, debounce_s="-1", occluded_fraction="1.5",
                           dark_luma="15", frozen_changed_fraction="2")
    with path.open("a") as f:
        f.write("  blak_luma: 3\n")
    assert main(["check-config", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{path}:{_line(path, 'debounce_s')}: thresholds.debounce_s: Input should be " \
           "greater than or equal to 0 (got -1.0)" in err
    assert f"{path}:{_line(path, 'occluded_fraction')}: thresholds.occluded_fraction: " \
           "Input should be less than or equal to 1" in err
    assert f"{path}:{_line(path, 'frozen_changed_fraction')}: " \
           "thresholds.frozen_changed_fraction: Input should be less than 1" in err
    assert f"{path}:{_line(path, 'dark_luma')}: thresholds.dark_luma: " in err
    assert "must be above black_luma (20)" in err
    assert f"{path}:{_line(path, 'blak_luma')}: thresholds.blak_luma: Extra inputs" in err


def test_camera_threshold_ordering_follows_the_black_threshold(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The ordering is checked against the profile's own black threshold, and a coherent
    change of both passes."""
    bad = _camera_profile(tmp_path, black_luma="50")  # above the profile's dark_luma 45
    assert main(["check-config", str(bad)]) == 1
    assert f"{bad}:{_line(bad, 'dark_luma')}: thresholds.dark_luma: Value error, dark_luma " \
           "(45) must be above black_luma (50)" in capsys.readouterr().err
    good = _camera_profile(tmp_path, black_luma="30", dark_luma="60")
    assert main(["check-config", str(good)]) == 0


def test_camera_overrides_in_an_edge_config_are_checked(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A camera's threshold overrides in an edge config: out of range is an error at the
    override's line, and the URL's password is never echoed."""
    text = (REPO / "examples" / "edge-interview-real.yaml").read_text()
    text = text.replace("    sample_fps: 1 ", "    sample_fps: -2 ")
    text = text.replace("    read_timeout_s: 8", "    read_timeout_s: 500")
    path = tmp_path / "edge.yaml"
    path.write_text(text)
    assert main(["check-config", str(path)]) == 1
    err = capsys.readouterr().err
    lines = text.splitlines()
    fps = next(i for i, line in enumerate(lines, 1) if "sample_fps: -2" in line)
    timeout = next(i for i, line in enumerate(lines, 1) if "read_timeout_s: 500" in line)
    assert f"{path}:{fps}: devices.camera-lawyer-1.sample_fps: Input should be greater " \
           "than 0 (got -2)" in err
    assert f"{path}:{timeout}: devices.camera-lawyer-1.read_timeout_s: Input should be " \
           "less than or equal to 120" in err
    assert "CHANGE-ME" not in err


def test_camera_credentials_file_is_checked_without_echoing_secrets(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The live view's credentials file: a good one is OK; problems are named by
    file:line: field, and no password or URL of it ever appears in the output."""
    good = tmp_path / "camera-credentials.yaml"
    good.write_text('default: {username: viewer, password: "pw-default-1"}\n'
                    "cameras:\n"
                    '  camera-lawyer-1: {url: "rtsp://v:pw-url-2@192.0.2.28/s"}\n')
    assert main(["check-config", str(good)]) == 0
    assert f"OK {good}" in capsys.readouterr().out
    bad = tmp_path / "bad-credentials.yaml"
    bad.write_text("cameras:\n"
                   "  camera-a: {username: viewer, password: 01234}\n"
                   '  camera-b: {password: "pw-lonely-3"}\n'
                   '  camera-c: {url: "ftp://v:pw-ftp-4@192.0.2.9/x"}\n'
                   '  camera-d: {username: v, pasword: "pw-typo-5"}\n')
    assert main(["check-config", str(bad)]) == 1
    out = capsys.readouterr()
    err = out.err
    assert f"{bad}:2: cameras.camera-a.password: Value error, must be text: put it in " \
           "quotes" in err
    assert f"{bad}:3: cameras.camera-b: Value error, give either username" in err
    assert f"{bad}:4: cameras.camera-c: Value error, url must be" in err
    assert f"{bad}:5: cameras.camera-d.pasword: Extra inputs are not permitted" in err
    for secret in ("1234", "668", "pw-lonely-3", "pw-ftp-4", "pw-typo-5"):
        assert secret not in err + out.out
