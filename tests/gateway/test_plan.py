"""Read planning: as few requests as the map allows, within Modbus limits and the map's
gap; point values and metrics (tags) decoded from the answers."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from gateway.plan import (
    Image,
    Read,
    decode_points,
    group_spans,
    metrics_of,
    plan_for,
    plan_reads,
    polled_points,
)
from protocol.modbus_map import ModbusMap, ModbusPoint
from protocol.profiles import load_profiles


def test_neighbours_merge_and_tables_stay_apart() -> None:
    """Points within max_gap of each other become one read per table; a far point does
    not drag unmapped addresses into the read."""
    points = {
        "a": ModbusPoint(table="holding", address=0), "b": ModbusPoint(table="holding",
                                                                       address=5),
        "c": ModbusPoint(table="holding", address=100, type="float32"),
        "d": ModbusPoint(table="input", address=0), "e": ModbusPoint(table="coil", address=7),
    }
    assert plan_reads(points, max_gap=8) == [
        Read("coil", 7, 1), Read("holding", 0, 6), Read("holding", 100, 2), Read("input", 0, 1)]
    assert plan_reads(points, max_gap=0) == [
        Read("coil", 7, 1), Read("holding", 0, 1), Read("holding", 5, 1),
        Read("holding", 100, 2), Read("input", 0, 1)]


def test_a_huge_map_is_split_at_the_request_limit_without_splitting_a_value() -> None:
    """24 strings of 8 registers (192 registers) need two reads of at most 125, and no
    string is cut in half."""
    lockers = load_profiles()["lockers"].modbus
    assert lockers is not None
    reads = [r for r in plan_for(lockers) if r.table == "holding"]
    assert reads == [Read("holding", 0, 120), Read("holding", 120, 72)]


@given(st.lists(st.tuples(st.integers(0, 2000), st.integers(1, 4)), min_size=1, max_size=60),
       st.integers(1, 125), st.integers(0, 20))
def test_grouping_covers_everything_within_limits(spans: list[tuple[int, int]], limit: int,
                                                  gap: int) -> None:
    """Every span is inside exactly one read; no read exceeds the limit (unless one
    value alone is wider); reads do not overlap."""
    spans = [(a, a + w - 1) for a, w in spans]
    reads = group_spans(spans, max(limit, 4), gap)
    for a, b in spans:
        assert sum(r.address <= a and b <= r.end for r in reads) == 1
    for r in reads:
        assert r.count <= max(limit, 4)
    ordered = sorted(reads, key=lambda r: r.address)
    assert all(x.end < y.address for x, y in itertools.pairwise(ordered))


def test_polled_points_leave_out_command_only_points() -> None:
    """A door is polled for its status word and change counter only: one request."""
    door = load_profiles()["door"]
    assert door.modbus is not None
    names = polled_points(door.modbus, door.metrics)
    assert set(names) == {"open", "locked", "forced", "open_changes"}
    assert plan_for(door.modbus, names) == [Read("input", 0, 2)]


def test_tags_metrics_from_flags_and_labels() -> None:
    """Set flags become 1-based tags, with the label when the map has one."""
    m = ModbusMap(points={
        "occ": ModbusPoint(table="discrete_input", address=0, repeat=3),
        "who": ModbusPoint(table="holding", address=0, type="string", length=2, repeat=3)},
        metrics={"occupied": {"flags": "occ", "labels": "who"},  # type: ignore[dict-item]
                 "open": {"flags": "occ"}})  # type: ignore[dict-item]
    image = Image()
    image.add(Read("discrete_input", 0, 3), [False, True, True])
    image.add(Read("holding", 0, 6), [0, 0, 0x5331, 0, 0, 0])  # "S1" at locker 2
    values = decode_points(m, image)
    assert values == {"occ": [False, True, True], "who": ["", "S1", ""]}
    assert metrics_of(m, ["occupied", "open"], values) == {"occupied": ["2:S1", "3"],
                                                           "open": ["2", "3"]}
