"""Device profiles and sites load once, and a wrong value is reported with file, line, field."""

from __future__ import annotations

from pathlib import Path

import pytest

from protocol.config import ConfigError
from protocol.profiles import load_profiles
from protocol.site import load_site

CONTRACT_ZONES = {
    "entrance", "body-check-1", "body-check-2", "info-1", "lockers-1",
    *(f"holding-{i}" for i in range(1, 7)), *(f"interrogation-{i}" for i in range(1, 5)),
    "inquiry-1", "inquiry-2", "juvenile-1", "lawyer-1", "corridor-a", "corridor-b",
    "duty-desk", "exit",
}


def test_reference_site_has_the_contract_zones_and_devices() -> None:
    """Zone ids and device ids (<kind>-<zone>) are exactly those of CONTRACT.md."""
    profiles = load_profiles()
    site = load_site("reference", profiles)
    assert {z.id for z in site.zones} == CONTRACT_ZONES
    devices = {d.id for d in site.devices()}
    for z in CONTRACT_ZONES:
        assert f"reader-{z}" in devices and f"camera-{z}" in devices
    for example in ("camera-interrogation-2", "recorder-inquiry-1", "door-holding-5",
                    "panic-body-check-1", "lockers-lockers-1", "smoke-corridor-a",
                    "env-juvenile-1", "search-body-check-2", "door-exit"):
        assert example in devices
    assert "recorder-holding-1" not in devices
    caps = {z.id: z.capacity for z in site.zones}
    assert [caps[f"holding-{i}"] for i in range(1, 7)] == [1, 1, 1, 1, 4, 4]
    assert set(profiles) >= {"reader", "camera", "door", "recorder", "panic", "env", "smoke",
                             "search", "lockers"}


def test_profile_error_names_file_line_and_field(tmp_path: Path) -> None:
    (tmp_path / "door.yaml").write_text(
        "id: door\nname: {zh: 门, en: Door}\nheartbeat_s: 10\nmetrics:\n"
        "  open: {type: boolean}\n")
    with pytest.raises(ConfigError) as info:
        load_profiles(tmp_path)
    text = str(info.value)
    assert "door.yaml:5: metrics.open.type" in text and "'boolean'" in text


def test_profile_with_unknown_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "panic.yaml").write_text(
        "id: panic\nname: {zh: 按钮, en: Panic}\nheartbeat_s: 10\nheartbeet: 3\nmetrics: {}\n")
    with pytest.raises(ConfigError, match=r"panic.yaml:4: heartbeet: Extra inputs"):
        load_profiles(tmp_path)


def test_site_with_unhosted_device_is_refused(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(
        "id: tiny\nname: {zh: 小, en: Tiny}\nfloor: {width: 10, height: 10}\nzones:\n"
        "  - {id: a, kind: holding, name: {zh: A, en: A}, rect: {x: 0, y: 0, w: 5, h: 5},"
        " devices: [reader, door]}\n"
        "nodes:\n  - {id: e1, kind: edge, zones: [a], profiles: [reader]}\n")
    with pytest.raises(ConfigError, match="door-a: must be hosted by exactly one node"):
        load_site(site, load_profiles())


def test_site_with_unknown_zone_in_node_names_it(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(
        "id: tiny\nname: {zh: 小, en: Tiny}\nfloor: {width: 10, height: 10}\nzones:\n"
        "  - {id: a, kind: holding, name: {zh: A, en: A}, rect: {x: 0, y: 0, w: 5, h: 5},"
        " devices: [reader]}\n"
        "nodes:\n  - {id: e1, kind: edge, zones: [a, b], profiles: [reader]}\n")
    with pytest.raises(ConfigError, match=r"unknown zones \['b'\]"):
        load_site(site, load_profiles())
