"""Register maps in device profiles: the bundled ones load; bad ones are config errors
that name the file, the line and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from protocol.config import ConfigError
from protocol.profiles import load_profile, load_profiles

PANIC = """\
id: panic
name: {zh: 紧急报警按钮, en: Panic button}
transport: modbus
heartbeat_s: 10
metrics:
  pressed: {type: bool}
events: [panic_pressed, panic_reset]
commands:
  reset: {}
modbus:
  points:
    pressed: {table: discrete_input, address: 0}
    reset_latch: {table: coil, address: 0, writable: true}
  events:
    - {metric: pressed, becomes: true, kind: panic_pressed}
  commands:
    reset:
      write: [{point: reset_latch, value: true}]
      confirm: [{point: pressed, equals: false}]
"""


def load(tmp_path: Path, text: str) -> None:
    path = tmp_path / "panic.yaml"
    path.write_text(text)
    load_profile(path)


def test_bundled_modbus_profiles_have_register_maps() -> None:
    """door, panic, env, smoke and lockers are Modbus devices with a validated map."""
    profiles = load_profiles()
    for pid in ("door", "panic", "env", "smoke", "lockers"):
        assert profiles[pid].modbus is not None, pid
    assert profiles["lockers"].modbus.points["locker_person"].repeat == 24  # type: ignore[union-attr]


def test_a_good_map_loads(tmp_path: Path) -> None:
    """The sample map is accepted (the other tests each break one thing in it)."""
    load(tmp_path, PANIC)


@pytest.mark.parametrize(("change", "expected"), [
    (("reset_latch: {table: coil, address: 0,", "reset_latch: {table: discrete_input, "
      "address: 0,"), "modbus.points.reset_latch: Value error, writable: a discrete_input"),
    (("pressed: {table: discrete_input, address: 0}", "pressed: {table: holding, address: 0, "
      "type: bool}"), "modbus.points.pressed: Value error, type: bool in a register table "
      "needs bit"),
    (("pressed: {table: discrete_input, address: 0}", "pressed: {table: discrete_input, "
      "address: 0, type: float32}"), "modbus.points.pressed: Value error, type: a "
      "discrete_input is a single bit"),
    (("pressed: {table: discrete_input, address: 0}", "pressed: {table: discrete_input, "
      "address: 70000}"), "modbus.points.pressed.address: Input should be less than or "
      "equal to 65535"),
    (("reset_latch: {table: coil, address: 0,", "reset_latch: {table: coil, address: 0, "
      "repeat: 9, stride: 9000,"), "address: the point ends at 72000"),
    (("reset_latch: {table: coil, address: 0, writable: true}",
      "reset_latch: {table: coil, address: 0, writable: true}\n"
      "    other: {table: coil, address: 0}"), "points.other: overlaps points.reset_latch "
      "at coil 0"),
    (("pressed: {table: discrete_input, address: 0}", "pressed: {table: discrete_input, "
      "address: 0, tpye: bool}"), "modbus.points.pressed.tpye: Extra inputs are not "
      "permitted"),
    (("kind: panic_pressed}", "kind: door_forced}"),
     "panic.yaml:10: modbus: Value error, events.0.kind: 'door_forced' is not an event of "
     "the profile"),
    (("{point: reset_latch, value: true}", "{point: pressed, value: true}"),
     "commands.reset.write.0.point: 'pressed' is not writable"),
    (("  reset: {}\n", "  reset: {}\n  test: {}\n"),
     "panic.yaml:11: modbus: Value error, commands: no register writes for ['test']"),
])
def test_bad_maps_name_the_field(tmp_path: Path, change: tuple[str, str],
                                 expected: str) -> None:
    """Wrong table for a type, out-of-range addresses, overlaps, typos, unknown events,
    read-only targets, unmapped commands: a ConfigError naming the field."""
    old, new = change
    assert old in PANIC
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, PANIC.replace(old, new, 1))
    message = str(caught.value)
    assert "panic.yaml:" in message
    assert expected in message, message


def test_bit_fields_may_share_a_register_but_not_bits(tmp_path: Path) -> None:
    """Two bits of one status word are fine; two fields claiming bit 1 overlap."""
    text = PANIC.replace("pressed: {table: discrete_input, address: 0}",
                         "pressed: {table: input, address: 0, type: bool, bit: 0}\n"
                         "    tamper: {table: input, address: 0, type: bool, bit: 1}")
    load(tmp_path, text)
    with pytest.raises(ConfigError, match=r"points\.wide: overlaps points\.tamper at input 0"):
        load(tmp_path, text.replace("tamper: {table: input, address: 0, type: bool, bit: 1}",
                                    "tamper: {table: input, address: 0, type: bool, bit: 1}\n"
                                    "    wide: {table: input, address: 0, type: uint16, "
                                    "bit: 1, bits: 3}"))


def test_a_modbus_profile_needs_a_map(tmp_path: Path) -> None:
    """transport: modbus without a modbus: section is refused (and vice versa)."""
    with pytest.raises(ConfigError, match="a register map is required"):
        load(tmp_path, PANIC.split("modbus:\n  points")[0])
