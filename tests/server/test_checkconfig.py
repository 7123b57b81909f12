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
