"""Uplink (registers -> typed values) and downlink (value -> registers) conversion.

Pure functions of a :class:`~protocol.modbus_map.ModbusPoint` (STYLE.md, after the
ThingsBoard gateway's converters): no I/O, no state, so every data type, scale, byte and
word order and bit field is tested by round trips in microseconds.

Orders, for a 32-bit value whose big-endian bytes are A B C D:

============  ============  ==================
byte_order    word_order    registers
============  ============  ==================
big           big           AB CD   ("ABCD")
big           little        CD AB   ("CDAB", word swap)
little        big           BA DC   ("BADC", byte swap)
little        little        DC BA   ("DCBA")
============  ============  ==================

Strings are sequences of characters: only the byte order applies (two per register).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from decimal import Decimal

from gateway.errors import ConvertError
from protocol.modbus_map import BIT_TABLES, ModbusPoint, Order, Scalar

_STRUCT = {"int16": "h", "uint16": "H", "int32": "i", "uint32": "I", "int64": "q",
           "uint64": "Q", "float32": "f", "float64": "d"}
_INT_RANGE = {t: (-(1 << (8 * struct.calcsize(c) - 1)), (1 << (8 * struct.calcsize(c) - 1)) - 1)
              if c.islower() else (0, (1 << (8 * struct.calcsize(c))) - 1)
              for t, c in _STRUCT.items() if c not in "fd"}


def words_to_bytes(words: Sequence[int], byte_order: Order, word_order: Order) -> bytes:
    """Registers as read -> the value's big-endian bytes."""
    ordered = list(words) if word_order == "big" else list(reversed(words))
    out = bytearray()
    for w in ordered:
        hi, lo = (w >> 8) & 0xFF, w & 0xFF
        out += bytes((hi, lo)) if byte_order == "big" else bytes((lo, hi))
    return bytes(out)


def bytes_to_words(data: bytes, byte_order: Order, word_order: Order) -> list[int]:
    """The value's big-endian bytes -> registers to write (inverse of words_to_bytes)."""
    words = []
    for i in range(0, len(data), 2):
        hi, lo = data[i], data[i + 1]
        words.append((hi << 8 | lo) if byte_order == "big" else (lo << 8 | hi))
    return words if word_order == "big" else list(reversed(words))


def decimals(x: float) -> int:
    """Decimal places of a scale or offset as written (0.1 -> 1, 2 -> 0)."""
    exponent = Decimal(repr(float(x))).normalize().as_tuple().exponent
    return max(0, -int(exponent))


def _scaled(point: ModbusPoint, raw: int | float) -> int | float:
    """raw * scale + offset, rounded to the precision the scale and offset carry (a 0.1
    scale gives one decimal: 231 -> 23.1, not 23.100000000000001)."""
    if point.scale == 1 and point.offset == 0:
        return raw
    value = raw * point.scale + point.offset
    if isinstance(raw, float):
        return value
    return round(value, max(decimals(point.scale), decimals(point.offset)))


def _orders(point: ModbusPoint, byte_order: Order, word_order: Order) -> tuple[Order, Order]:
    return point.byte_order or byte_order, point.word_order or word_order


def decode(point: ModbusPoint, raw: Sequence[int] | Sequence[bool], byte_order: Order = "big",
           word_order: Order = "big") -> Scalar:
    """One element of ``point`` from its ``point.width`` registers (or one bit)."""
    if point.table in BIT_TABLES:
        return bool(raw[0])
    if len(raw) != point.width:
        raise ConvertError(f"{point.kind} needs {point.width} registers, got {len(raw)}")
    words = [int(w) & 0xFFFF for w in raw]
    if point.bit is not None:
        field = (words[0] >> point.bit) & ((1 << point.bits) - 1)
        return bool(field) if point.kind == "bool" else field
    bo, wo = _orders(point, byte_order, word_order)
    if point.kind == "string":
        data = words_to_bytes(words, bo, "big")
        return data.split(b"\x00", 1)[0].decode("utf-8", errors="replace").rstrip()
    value = struct.unpack(">" + _STRUCT[point.kind], words_to_bytes(words, bo, wo))[0]
    if point.kind == "float32" and math.isfinite(value):
        value = float(f"{value:.7g}")  # float32 carries ~7 significant digits
    return _scaled(point, value)


def encode(point: ModbusPoint, value: Scalar, byte_order: Order = "big",
           word_order: Order = "big", current: int = 0) -> list[int] | list[bool]:
    """Registers (or one bit) holding ``value``; a bit field is merged into ``current``,
    the register's present content (read-modify-write)."""
    if point.table in BIT_TABLES:
        if not isinstance(value, bool | int) or (isinstance(value, int) and value not in (0, 1)):
            raise ConvertError(f"a {point.table} takes true/false, got {value!r}")
        return [bool(value)]
    if point.bit is not None:
        width_mask = (1 << point.bits) - 1
        if isinstance(value, bool):
            field = int(value)
        elif isinstance(value, int) and 0 <= value <= width_mask:
            field = value
        else:
            raise ConvertError(f"a {point.bits}-bit field takes 0..{width_mask}, got {value!r}")
        cleared = int(current) & ~(width_mask << point.bit) & 0xFFFF
        return [cleared | field << point.bit]
    bo, wo = _orders(point, byte_order, word_order)
    if point.kind == "string":
        if not isinstance(value, str):
            raise ConvertError(f"a string point takes text, got {value!r}")
        data = value.encode("utf-8")
        capacity = 2 * point.width
        if len(data) > capacity:
            raise ConvertError(f"{value!r} is longer than {capacity} bytes")
        return bytes_to_words(data.ljust(capacity, b"\x00"), bo, "big")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConvertError(f"a {point.kind} takes a number, got {value!r}")
    raw: int | float
    if point.scale == 1 and point.offset == 0:
        raw = value  # exact: a 64-bit integer does not survive a float division
    else:
        raw = (value - point.offset) / point.scale
    code = _STRUCT[point.kind]
    if code in "fd":
        if point.kind == "float32" and math.isfinite(raw) and abs(raw) > 3.4028234663852886e38:
            raise ConvertError(f"{value!r} overflows a float32")
        data = struct.pack(">" + code, float(raw))
    else:
        if not math.isfinite(raw):
            raise ConvertError(f"{value!r} is not a finite number")
        raw = round(raw)
        low, high = _INT_RANGE[point.kind]
        if not low <= raw <= high:
            raise ConvertError(f"{value!r} is outside the {point.kind} range")
        data = struct.pack(">" + code, raw)
    return bytes_to_words(data, bo, wo)
