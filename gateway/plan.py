"""Read planning and snapshot decoding for one device's register map (pure).

:func:`plan_reads` groups a map's points into as few read requests as Modbus allows: per
table, neighbouring points are merged while the span stays within the request limit (125
registers, 2000 bits) and the unmapped addresses between them within ``max_gap`` (a device
may refuse to read addresses it does not define; the gap is the map's promise that it
does not).  :func:`decode_points` turns the answers into point values and
:func:`metrics_of` into the profile's metrics; :class:`PollDecoder` does both for one
device's poll, with the work that does not change from poll to poll done once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.convert import decimals, decode
from protocol.modbus_map import BIT_TABLES, ModbusMap, ModbusPoint, Scalar

PointValue = Scalar | list[Scalar]
Registers = Sequence[int] | Sequence[bool]


@dataclass(frozen=True, slots=True)
class Read:
    table: str
    address: int
    count: int

    @property
    def end(self) -> int:
        return self.address + self.count - 1


def _intervals(points: Iterable[ModbusPoint]) -> list[tuple[int, int]]:
    spans = []
    for p in points:
        for i in range(p.repeat):
            start = p.element_address(i)
            spans.append((start, start + p.width - 1))
    return sorted(spans)


def group_spans(spans: Iterable[tuple[int, int]], limit: int, max_gap: int) -> list[Read]:
    """Merge sorted (start, end) spans of one table into reads (table filled by caller)."""
    reads: list[Read] = []
    start = end = -1
    for a, b in sorted(spans):
        if start >= 0 and a - end - 1 <= max_gap and max(b, end) - start + 1 <= limit:
            end = max(end, b)
            continue
        if start >= 0:
            reads.append(Read("", start, end - start + 1))
        start, end = a, b
    if start >= 0:
        reads.append(Read("", start, end - start + 1))
    return reads


def plan_reads(points: Mapping[str, ModbusPoint], max_registers: int = 125,
               max_bits: int = 2000, max_gap: int = 16) -> list[Read]:
    """The fewest reads covering every point (per table, in address order)."""
    reads: list[Read] = []
    for table in ("coil", "discrete_input", "holding", "input"):
        mine = [p for p in points.values() if p.table == table]
        if not mine:
            continue
        limit = max_bits if table in BIT_TABLES else max_registers
        reads += [Read(table, r.address, r.count)
                  for r in group_spans(_intervals(mine), limit, max_gap)]
    return reads


def polled_points(m: ModbusMap, metric_names: Iterable[str]) -> list[str]:
    """The points a poll needs: the metrics' sources and the change counters.  Points only
    commands use (a lock relay, a reset coil) are read back when a command runs, not
    polled: on a door controller that is one request per poll instead of three."""
    names: list[str] = []
    for metric in metric_names:
        src = m.source_of(metric)
        names += [n for n in (src.point, src.flags, src.labels) if n is not None]
    names += list(m.counters.values())
    return list(dict.fromkeys(names))


def plan_for(m: ModbusMap, names: Iterable[str] | None = None) -> list[Read]:
    points = m.points if names is None else {n: m.points[n] for n in names}
    return plan_reads(points, m.max_read_registers, m.max_read_bits, m.max_gap)


class Image:
    """The answers of one poll, addressable by (table, address)."""

    def __init__(self) -> None:
        self._blocks: list[tuple[Read, Registers]] = []

    def add(self, read: Read, values: Registers) -> None:
        self._blocks.append((read, values))

    def get(self, table: str, address: int, count: int) -> list[int] | list[bool]:
        for read, values in self._blocks:
            if read.table == table and read.address <= address \
                    and address + count - 1 <= read.end:
                offset = address - read.address
                return list(values[offset:offset + count])
        raise KeyError(f"{table} {address}..{address + count - 1} was not read")


def decode_element(m: ModbusMap, point: ModbusPoint, image: Image, index: int = 0) -> Scalar:
    raw = image.get(point.table, point.element_address(index), point.width)
    return decode(point, raw, m.byte_order, m.word_order)


def decode_points(m: ModbusMap, image: Image, names: Iterable[str] | None = None,
                  ) -> dict[str, PointValue]:
    """Every (named) point's value; a repeated point gives a list."""
    out: dict[str, PointValue] = {}
    for name in names if names is not None else m.points:
        p = m.points[name]
        if p.repeat == 1:
            out[name] = decode_element(m, p, image)
        else:
            out[name] = [decode_element(m, p, image, i) for i in range(p.repeat)]
    return out


def metrics_of(m: ModbusMap, metric_names: Iterable[str], values: Mapping[str, PointValue],
               ) -> dict[str, Scalar | list[str] | None]:
    """The profile's metrics from point values (tags: ``"<index>"`` or
    ``"<index>:<label>"`` for every set flag, 1-based)."""
    metrics: dict[str, Scalar | list[str] | None] = {}
    for name in metric_names:
        src = m.source_of(name)
        if src.flags is None:
            assert src.point is not None
            value = values[src.point]
            assert not isinstance(value, list)
            metrics[name] = value
            continue
        flags = values[src.flags]
        labels = values[src.labels] if src.labels is not None else None
        assert isinstance(flags, list)
        tags = []
        for i, flag in enumerate(flags):
            if not flag:
                continue
            label = labels[i] if isinstance(labels, list) else ""
            tags.append(f"{i + 1}:{label}" if label else str(i + 1))
        metrics[name] = tags
    return metrics


# How PollDecoder reads one element (the common cases inline, the rest via convert.decode).
_BIT, _UINT16, _INT16, _FIELD, _GENERIC = range(5)


class PollDecoder:
    """One device's poll, compiled once: where each polled point's elements sit in the
    answers to its reads, how each is decoded, and where each metric comes from.

    Same results as :func:`decode_points` then :func:`metrics_of` (tests/gateway/
    test_plan.py checks every bundled profile), without their per-poll work: no search for
    the read holding an address, no property of the pydantic point models read again, no
    source object built per metric; a plain, scaled or bit-field register or a bit is
    decoded inline (at 100 devices polled each second the gateway spends its time here
    and in the request itself)."""

    def __init__(self, m: ModbusMap, reads: Sequence[Read], names: Iterable[str],
                 metric_names: Iterable[str]) -> None:
        self.reads = list(reads)
        self._points = [(name, m.points[name].repeat > 1,
                         [self._slot(m, m.points[name], i)
                          for i in range(m.points[name].repeat)])
                        for name in dict.fromkeys(names)]
        # (metric, its point, whether it is a tags metric, the tags' label point)
        self._metrics: list[tuple[str, str, bool, str | None]] = []
        for metric in metric_names:
            src = m.source_of(metric)
            if src.flags is not None:
                self._metrics.append((metric, src.flags, True, src.labels))
            else:
                assert src.point is not None
                self._metrics.append((metric, src.point, False, None))
        self.counters = list(m.counters.items())  # (metric, point)

    def _slot(self, m: ModbusMap, p: ModbusPoint, index: int) -> tuple[Any, ...]:
        """(read index, offset in its answer, width, how, what `how` needs)."""
        address, width = p.element_address(index), p.width
        block = next((i for i, r in enumerate(self.reads) if r.table == p.table
                      and r.address <= address and address + width - 1 <= r.end), None)
        if block is None:
            raise KeyError(f"{p.table} {address}..{address + width - 1} is not read")
        where = (block, address - self.reads[block].address, width)
        kind = p.kind
        byte_order = p.byte_order or m.byte_order
        if p.table in BIT_TABLES:
            return (*where, _BIT, None)
        if p.bit is not None:
            return (*where, _FIELD, (p.bit, (1 << p.bits) - 1, kind == "bool"))
        if kind in ("uint16", "int16") and byte_order == "big":
            scaled = None
            if p.scale != 1 or p.offset != 0:  # as convert._scaled, digits found once
                scaled = (p.scale, p.offset, max(decimals(p.scale), decimals(p.offset)))
            return (*where, _UINT16 if kind == "uint16" else _INT16, scaled)
        return (*where, _GENERIC, (p, m.byte_order, m.word_order))

    def points(self, answers: Sequence[Registers]) -> dict[str, PointValue]:
        """Every polled point's value from the answers to :attr:`reads` (in that order)."""
        return {name: [_element(answers, s) for s in slots] if repeated
                else _element(answers, slots[0]) for name, repeated, slots in self._points}

    def metrics(self, points: Mapping[str, PointValue]) -> dict[str, Scalar | list[str] | None]:
        """The profile's metrics from :meth:`points` (as :func:`metrics_of`)."""
        metrics: dict[str, Scalar | list[str] | None] = {}
        for metric, point, tagged, labels in self._metrics:
            value = points[point]
            if not tagged:
                assert not isinstance(value, list)
                metrics[metric] = value
                continue
            assert isinstance(value, list)
            names = points[labels] if labels is not None else None
            tags = []
            for i, flag in enumerate(value):
                if flag:
                    label = names[i] if isinstance(names, list) else ""
                    tags.append(f"{i + 1}:{label}" if label else str(i + 1))
            metrics[metric] = tags
        return metrics


def _element(answers: Sequence[Registers], slot: tuple[Any, ...]) -> Scalar:
    block, offset, width, how, arg = slot
    registers = answers[block]
    if how == _UINT16 or how == _INT16:
        raw = int(registers[offset]) & 0xFFFF
        if how == _INT16 and raw & 0x8000:
            raw -= 0x10000
        return raw if arg is None else round(raw * arg[0] + arg[1], arg[2])
    if how == _BIT:
        return bool(registers[offset])
    if how == _FIELD:
        bit, mask, is_bool = arg
        field = (int(registers[offset]) >> bit) & mask
        return bool(field) if is_bool else field
    return decode(arg[0], registers[offset:offset + width], arg[1], arg[2])
