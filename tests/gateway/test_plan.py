"""Read planning: as few requests as the map allows, within Modbus limits and the map's
gap; point values and metrics (tags) decoded from the answers, from scratch and by a
device's compiled poll decoder."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.plan import (
    Image,
    PollDecoder,
    Read,
    decode_points,
    group_spans,
    metrics_of,
    plan_for,
    plan_reads,
    polled_points,
)
from protocol.modbus_map import BIT_TABLES, ModbusMap, ModbusPoint
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
    value alone is wider); reads do not overlap.  Spans are disjoint or identical (bit
    fields of one register), as a validated map's are: partly overlapping ones could chain
    past any limit."""
    kept: list[tuple[int, int]] = []
    for a, w in spans:
        span = (a, a + w - 1)
        if all(span == k or span[1] < k[0] or k[1] < span[0] for k in kept):
            kept.append(span)
    spans = kept
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


def _random_answers(reads: list[Read], rng: random.Random) -> list[list[int] | list[bool]]:
    return [[rng.random() < 0.5 for _ in range(r.count)] if r.table in BIT_TABLES
            else [rng.choice((0, 1, 0x7FFF, 0x8000, 0xFFFF, rng.randrange(0x10000)))
                  for _ in range(r.count)] for r in reads]


def _reference(m: ModbusMap, reads: list[Read], answers: list[list[int] | list[bool]],
               names: list[str], metrics: list[str]) -> tuple[object, object]:
    image = Image()
    for r, values in zip(reads, answers, strict=True):
        image.add(r, values)
    points = decode_points(m, image, names)
    return points, metrics_of(m, metrics, points)


MIXED = ModbusMap(byte_order="little", word_order="little", points={
    "t": ModbusPoint(table="input", address=0, type="int16", scale=0.1, offset=-40),
    "u": ModbusPoint(table="input", address=1, scale=0.01),
    "be": ModbusPoint(table="input", address=2, type="int16", byte_order="big"),
    "le": ModbusPoint(table="input", address=3, type="int16"),
    "f": ModbusPoint(table="input", address=4, type="float32", byte_order="big"),
    "e": ModbusPoint(table="input", address=6, type="uint32", word_order="big"),
    "q": ModbusPoint(table="holding", address=0, type="int64"),
    "w": ModbusPoint(table="holding", address=4, type="bool", bit=3),
    "n": ModbusPoint(table="holding", address=4, bit=4, bits=5),
    "s": ModbusPoint(table="holding", address=5, type="string", length=3),
    "c": ModbusPoint(table="coil", address=7),
    "occ": ModbusPoint(table="discrete_input", address=0, repeat=4, stride=2),
    "who": ModbusPoint(table="holding", address=10, type="string", length=1, repeat=4)},
    metrics={"occupied": {"flags": "occ", "labels": "who"}})  # type: ignore[dict-item]


def test_the_compiled_poll_decoder_matches_decoding_from_scratch() -> None:
    """PollDecoder (the poll path) gives exactly what decode_points and metrics_of give,
    value and type, for every bundled profile's map and a map of every data type, scale,
    order, bit field, string and repeated point, over many random register contents."""
    maps = [(p.modbus, list(p.metrics)) for p in load_profiles().values()
            if p.modbus is not None]
    maps.append((MIXED, ["t", "u", "be", "le", "f", "e", "q", "w", "n", "s", "c",
                         "occupied"]))
    rng = random.Random(5)
    checked = 0
    for m, metrics in maps:
        names = polled_points(m, metrics)
        reads = plan_for(m, names)
        decoder = PollDecoder(m, reads, names, metrics)
        for _ in range(200):
            answers = _random_answers(reads, rng)
            points = decoder.points(answers)
            expected_points, expected_metrics = _reference(m, reads, answers, names, metrics)
            # repr: NaN equals NaN, and 1 == 1.0 == True would hide a wrong type
            assert repr(points) == repr(expected_points)
            assert repr(decoder.metrics(points)) == repr(expected_metrics)
            checked += 1
    assert checked >= 200 * 5


def test_the_poll_decoder_refuses_a_point_no_read_covers() -> None:
    m = ModbusMap(points={"a": ModbusPoint(table="holding", address=0),
                          "b": ModbusPoint(table="holding", address=40)})
    with pytest.raises(KeyError, match=r"holding 40\.\.40 is not read"):
        PollDecoder(m, [Read("holding", 0, 1)], ["a", "b"], ["a", "b"])
