"""A device profile's Modbus register map (the ``modbus:`` section of a profile), validated.

Data, not code (STYLE.md rule 3): the gateway reads a device by its map, the simulated
devices serve the same map, and ``check-config`` rejects a bad one with the field named.

* ``points``: named register points.  A point lives in one table (``coil``,
  ``discrete_input``, ``holding``, ``input``) at an address (0-based protocol address),
  has a type (``bool`` in the bit tables; in register tables a numeric type, ``string`` of
  ``length`` registers, or a bit field ``bit``/``bits`` of one register), a ``scale`` and
  ``offset`` (value = raw * scale + offset), byte and word order, and may repeat
  (``repeat`` elements ``stride`` addresses apart: 24 lockers).
* ``metrics``: where each profile metric comes from.  A metric without an entry reads the
  point of the same name; a ``tags`` metric lists the (1-based) indexes of a repeated bool
  point that are set, optionally as ``"<index>:<label>"`` with a repeated string point.
* ``counters``: a bool metric whose changes the device also counts in a register, so a
  change between two polls (a door opened and closed within 100 ms) is not lost.
* ``events``: profile events raised on a metric's transitions.
* ``commands``: profile commands as register/coil writes, confirmed by reading back.

Errors: overlapping points, types that do not fit their table, addresses beyond 65535,
references to unknown points, metrics, events, commands or params.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Literal

from pydantic import Field, model_validator

from protocol.config import StrictModel

Table = Literal["coil", "discrete_input", "holding", "input"]
BIT_TABLES: frozenset[str] = frozenset({"coil", "discrete_input"})
WRITABLE_TABLES: frozenset[str] = frozenset({"coil", "holding"})
PointType = Literal["bool", "int16", "uint16", "int32", "uint32", "int64", "uint64",
                    "float32", "float64", "string"]
Order = Literal["big", "little"]
Scalar = bool | int | float | str
NUMERIC_REGISTERS: dict[str, int] = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2,
                                     "int64": 4, "uint64": 4, "float32": 2, "float64": 4}
POINT_NAME = r"^[a-z][a-z0-9_]{0,47}$"
MAX_ADDRESS = 65535
MAX_READ_REGISTERS = 125  # Modbus application protocol v1.1b3, 6.3: 1..125 registers
MAX_READ_BITS = 2000  # 6.1 / 6.2: 1..2000 coils or discrete inputs


class ModbusPoint(StrictModel):
    table: Table
    address: int = Field(ge=0, le=MAX_ADDRESS)
    type: PointType | None = None  # default: bool in bit tables, uint16 in register tables
    bit: int | None = Field(default=None, ge=0, le=15)
    bits: int = Field(default=1, ge=1, le=16)
    length: int | None = Field(default=None, ge=1, le=MAX_READ_REGISTERS)
    scale: float = 1.0
    offset: float = 0.0
    byte_order: Order | None = None  # None: the map's default
    word_order: Order | None = None
    repeat: int = Field(default=1, ge=1, le=MAX_READ_BITS)
    stride: int | None = Field(default=None, ge=1, le=MAX_ADDRESS)
    writable: bool = False

    @property
    def kind(self) -> PointType:
        if self.type is not None:
            return self.type
        return "bool" if self.table in BIT_TABLES else "uint16"

    @property
    def width(self) -> int:
        """Registers (bits in a bit table) of one element."""
        if self.table in BIT_TABLES or self.bit is not None:
            return 1
        if self.kind == "string":
            return self.length or 1
        return NUMERIC_REGISTERS.get(self.kind, 1)

    @property
    def step(self) -> int:
        return self.stride or self.width

    def element_address(self, index: int) -> int:
        """Address of element ``index`` (0-based)."""
        return self.address + index * self.step

    @property
    def end(self) -> int:
        """Last address used (inclusive)."""
        return self.element_address(self.repeat - 1) + self.width - 1

    @property
    def mask(self) -> int:
        """Bits of each register it occupies (a bit field shares its register)."""
        if self.bit is None:
            return 0xFFFF
        return ((1 << self.bits) - 1) << self.bit

    @model_validator(mode="after")
    def _fits(self) -> ModbusPoint:
        kind = self.kind
        if self.table in BIT_TABLES:
            if kind != "bool":
                raise ValueError(f"type: a {self.table} is a single bit, it cannot be {kind}")
            extras = [n for n in ("bit", "length", "byte_order", "word_order")
                      if getattr(self, n) is not None]
            if extras or self.bits != 1 or self.scale != 1 or self.offset != 0:
                raise ValueError(f"a {self.table} point takes no {extras or 'bits/scale/offset'}")
        else:
            if kind == "bool" and self.bit is None:
                raise ValueError("type: bool in a register table needs bit: 0..15")
            if self.bit is not None:
                if kind not in ("bool", "uint16"):
                    raise ValueError(f"bit: a bit field is bool or uint16, not {kind}")
                if kind == "bool" and self.bits != 1:
                    raise ValueError("bits: a bool bit field is 1 bit wide")
                if self.bit + self.bits > 16:
                    raise ValueError(f"bits: bit {self.bit} + {self.bits} bits exceed the "
                                     f"16-bit register")
            elif self.bits != 1:
                raise ValueError("bits: only with bit (a bit field)")
            if (kind == "string") != (self.length is not None):
                raise ValueError("length: required for a string, and only for one")
            if kind in ("bool", "string") and (self.scale != 1 or self.offset != 0):
                raise ValueError(f"scale/offset: not for a {kind}")
        if self.scale == 0:
            raise ValueError("scale: must not be 0")
        if self.writable and self.table not in WRITABLE_TABLES:
            raise ValueError(f"writable: a {self.table} is read-only in Modbus")
        if self.repeat > 1 and self.step < self.width:
            raise ValueError(f"stride: {self.step} < the element's width {self.width}")
        if self.end > MAX_ADDRESS:
            raise ValueError(f"address: the point ends at {self.end}, beyond {MAX_ADDRESS}")
        return self


class MetricSource(StrictModel):
    """Where a profile metric comes from: one point, or (tags) a repeated flag point."""

    point: str | None = None
    flags: str | None = None  # a repeated bool point: the tags are the set indexes (1-based)
    labels: str | None = None  # a repeated string point: tags become "<index>:<label>"

    @model_validator(mode="after")
    def _one(self) -> MetricSource:
        if (self.point is None) == (self.flags is None):
            raise ValueError("exactly one of point or flags")
        if self.labels is not None and self.flags is None:
            raise ValueError("labels: only with flags")
        return self


class EventRule(StrictModel):
    """``kind`` is raised when ``metric`` becomes ``becomes`` (bool metric), or for each
    entry ``when`` ``added``/``removed`` (tags metric), with the entry's parts as ``data``."""

    metric: str
    kind: str
    becomes: bool | None = None
    when: Literal["added", "removed"] | None = None  # not "on": YAML 1.1 reads on as true
    data: list[str] = Field(default_factory=list, max_length=2)

    @model_validator(mode="after")
    def _one(self) -> EventRule:
        if (self.becomes is None) == (self.when is None):
            raise ValueError("exactly one of becomes (bool metric) or when (tags metric)")
        if self.data and self.when is None:
            raise ValueError("data: only for tags metrics (names of '<index>:<label>' parts)")
        return self


class WriteStep(StrictModel):
    """One write: a fixed ``value`` or a command ``param``; ``index_param`` picks the element
    of a repeated point (1-based, e.g. the locker number)."""

    point: str
    value: Scalar | None = None
    param: str | None = None
    default: Scalar | None = None  # when the param is not given
    index_param: str | None = None

    @model_validator(mode="after")
    def _one(self) -> WriteStep:
        if (self.value is None) == (self.param is None):
            raise ValueError("exactly one of value or param")
        return self


class ConfirmStep(StrictModel):
    """After the writes, ``point`` must read ``equals`` (or the ``param``'s value)."""

    point: str
    equals: Scalar | None = None
    param: str | None = None
    index_param: str | None = None

    @model_validator(mode="after")
    def _one(self) -> ConfirmStep:
        if (self.equals is None) == (self.param is None):
            raise ValueError("exactly one of equals or param")
        return self


class CommandMap(StrictModel):
    write: list[WriteStep] = Field(min_length=1, max_length=16)
    confirm: list[ConfirmStep] | None = None  # None: read back every written point
    confirm_ms: int = Field(default=1000, ge=10, le=60_000)


class ModbusMap(StrictModel):
    byte_order: Order = "big"
    word_order: Order = "big"
    poll_ms: int = Field(default=250, ge=10, le=3_600_000)
    timeout_ms: int = Field(default=300, ge=5, le=60_000)
    retries: int = Field(default=1, ge=0, le=5)
    max_read_registers: int = Field(default=MAX_READ_REGISTERS, ge=1, le=MAX_READ_REGISTERS)
    max_read_bits: int = Field(default=MAX_READ_BITS, ge=1, le=MAX_READ_BITS)
    max_gap: int = Field(default=16, ge=0, le=MAX_READ_REGISTERS,
                         description="unmapped addresses one grouped read may span")
    points: dict[str, ModbusPoint] = Field(min_length=1)
    metrics: dict[str, MetricSource] = Field(default_factory=dict)
    counters: dict[str, str] = Field(default_factory=dict, description="metric -> point")
    events: list[EventRule] = Field(default_factory=list)
    commands: dict[str, CommandMap] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> ModbusMap:
        bad = [n for n in self.points if not re.match(POINT_NAME, n)]
        if bad:
            raise ValueError(f"points: bad names {bad} (lowercase, digits, _)")
        self._check_overlaps()
        for name, src in self.metrics.items():
            for role in ("point", "flags", "labels"):
                ref = getattr(src, role)
                if ref is not None and ref not in self.points:
                    raise ValueError(f"metrics.{name}.{role}: no point {ref!r}")
            if src.flags is not None:
                flags = self.points[src.flags]
                if flags.kind != "bool" or flags.repeat < 2:
                    raise ValueError(f"metrics.{name}.flags: {src.flags!r} must be a repeated "
                                     f"bool point")
                if src.labels is not None:
                    labels = self.points[src.labels]
                    if labels.kind != "string" or labels.repeat != flags.repeat:
                        raise ValueError(f"metrics.{name}.labels: {src.labels!r} must be a "
                                         f"string point repeated {flags.repeat} times")
        for metric, ref in self.counters.items():
            point = self.points.get(ref)
            if point is None or point.kind != "uint16" or point.bit is not None \
                    or point.repeat != 1:
                raise ValueError(f"counters.{metric}: {ref!r} must be a uint16 register point")
        for name, command in self.commands.items():
            for i, step in enumerate(command.write):
                point = self.points.get(step.point)
                if point is None:
                    raise ValueError(f"commands.{name}.write.{i}.point: no point {step.point!r}")
                if not point.writable:
                    raise ValueError(f"commands.{name}.write.{i}.point: {step.point!r} is not "
                                     f"writable")
                self._check_index(f"commands.{name}.write.{i}", point, step.index_param)
            for i, c in enumerate(command.confirm or []):
                point = self.points.get(c.point)
                if point is None:
                    raise ValueError(f"commands.{name}.confirm.{i}.point: no point {c.point!r}")
                self._check_index(f"commands.{name}.confirm.{i}", point, c.index_param)
        return self

    @staticmethod
    def _check_index(where: str, point: ModbusPoint, index_param: str | None) -> None:
        if (point.repeat > 1) != (index_param is not None):
            raise ValueError(f"{where}.index_param: required for a repeated point, and only "
                             f"for one")

    def _check_overlaps(self) -> None:
        used: dict[tuple[str, int], list[tuple[str, int]]] = {}
        for name, p in self.points.items():
            for i in range(p.repeat):
                start = p.element_address(i)
                for address in range(start, start + p.width):
                    for other, mask in used.get((p.table, address), []):
                        if mask & p.mask:
                            raise ValueError(f"points.{name}: overlaps points.{other} at "
                                             f"{p.table} {address}")
                    used.setdefault((p.table, address), []).append((name, p.mask))

    # ------------------------------------------------------------------ profile cross-check

    def source_of(self, metric: str) -> MetricSource:
        return self.metrics.get(metric) or MetricSource(point=metric)

    def check_against(self, metrics: Mapping[str, str], events: set[str],
                      commands: Mapping[str, Mapping[str, str]]) -> None:
        """Every profile metric has a source of a fitting type; every event kind and
        command of the map exists in the profile (raises ValueError naming the field)."""
        for name in self.metrics:
            if name not in metrics:
                raise ValueError(f"metrics.{name}: not a metric of the profile")
        for name, mtype in metrics.items():
            src = self.source_of(name)
            if src.flags is not None:
                if mtype != "tags":
                    raise ValueError(f"metrics.{name}: flags make a tags metric, the "
                                     f"profile says {mtype}")
                continue
            assert src.point is not None
            point = self.points.get(src.point)
            if point is None:
                raise ValueError(f"metric {name!r} has no source (no point of that "
                                 f"name, no metrics.{name})")
            fits = {"bool": point.kind == "bool", "str": point.kind == "string",
                    "int": point.kind in NUMERIC_REGISTERS,
                    "float": point.kind in NUMERIC_REGISTERS}.get(mtype, False)
            if not fits or point.repeat != 1:
                raise ValueError(f"metric {name!r} ({mtype}) cannot come from point "
                                 f"{src.point!r} ({point.kind}, repeat {point.repeat})")
        for metric in self.counters:
            if metrics.get(metric) != "bool":
                raise ValueError(f"counters.{metric}: not a bool metric of the profile")
        for i, rule in enumerate(self.events):
            if rule.kind not in events:
                raise ValueError(f"events.{i}.kind: {rule.kind!r} is not an event of "
                                 f"the profile")
            want = "bool" if rule.becomes is not None else "tags"
            if metrics.get(rule.metric) != want:
                raise ValueError(f"events.{i}.metric: {rule.metric!r} is not a {want} "
                                 f"metric of the profile")
        for name, command in self.commands.items():
            if name not in commands:
                raise ValueError(f"commands.{name}: not a command of the profile")
            params = commands[name]
            refs = [(f"write.{i}", s.param, s.index_param) for i, s in enumerate(command.write)]
            refs += [(f"confirm.{i}", c.param, c.index_param)
                     for i, c in enumerate(command.confirm or [])]
            for where, *names in refs:
                for ref in names:
                    if ref is not None and ref not in params:
                        raise ValueError(f"commands.{name}.{where}: no param {ref!r} "
                                         f"in the profile's command")
        missing = sorted(set(commands) - set(self.commands))
        if missing:
            raise ValueError(f"commands: no register writes for {missing}")

    def points_in(self, table: str) -> Iterator[tuple[str, ModbusPoint]]:
        return ((n, p) for n, p in self.points.items() if p.table == table)
