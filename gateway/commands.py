"""Downlink: a command and its params -> register/coil writes and read-back checks (pure).

A command's params are checked against the profile's command spec (type, range,
required) before anything is written; a value that does not fit its point's type is a
refusal, never a truncated write.  The result says what to write, in order, and what must
read back afterwards (by default every written point with the written value).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gateway.convert import encode
from gateway.errors import CommandRefused, ConvertError
from protocol.modbus_map import CommandMap, ModbusMap, ModbusPoint, Scalar
from protocol.profiles import CommandSpec

Params = Mapping[str, bool | int | float | str | list[str] | None]


@dataclass(frozen=True, slots=True)
class PlannedWrite:
    name: str
    point: ModbusPoint
    index: int  # element of a repeated point, 0-based
    value: Scalar

    @property
    def address(self) -> int:
        return self.point.element_address(self.index)


@dataclass(frozen=True, slots=True)
class Expectation:
    name: str
    point: ModbusPoint
    index: int
    value: Scalar


def _param(name: str, params: Params, default: Scalar | None) -> Scalar:
    """A param's value (checked against its spec already), else the map's default."""
    value = params.get(name, default)
    if value is None:
        raise CommandRefused(f"param {name!r} is required")
    if isinstance(value, list):
        raise CommandRefused(f"param {name!r} must be a scalar")
    return value


def _index(point: ModbusPoint, index_param: str | None, spec: CommandSpec,
           params: Params) -> int:
    if index_param is None:
        return 0
    number = _param(index_param, params, None)
    if not isinstance(number, int) or isinstance(number, bool) \
            or not 1 <= number <= point.repeat:
        raise CommandRefused(f"param {index_param!r} must be 1..{point.repeat}, got {number!r}")
    return number - 1


def plan_command(m: ModbusMap, command: CommandMap, spec: CommandSpec, params: Params,
                 ) -> tuple[list[PlannedWrite], list[Expectation]]:
    problems = spec.problems(params)  # unknown, missing, wrong type, out of range
    if problems:
        raise CommandRefused("; ".join(problems))
    writes = []
    for step in command.write:
        point = m.points[step.point]
        value = step.value if step.param is None else _param(step.param, params, step.default)
        assert value is not None
        try:
            encode(point, value, m.byte_order, m.word_order)
        except ConvertError as err:
            raise CommandRefused(f"{step.point}: {err}") from err
        writes.append(PlannedWrite(step.point, point, _index(point, step.index_param, spec,
                                                                 params), value))
    if command.confirm is None:
        expect = [Expectation(w.name, w.point, w.index, w.value) for w in writes]
    else:
        expect = []
        for c in command.confirm:
            point = m.points[c.point]
            value = c.equals if c.param is None else _param(c.param, params, None)
            assert value is not None
            expect.append(Expectation(c.point, point, _index(point, c.index_param, spec,
                                                             params), value))
    return writes, expect
