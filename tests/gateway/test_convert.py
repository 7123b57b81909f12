"""Uplink/downlink converters: every data type, scale, byte and word order, bit fields,
strings; round trips by property (hypothesis) and the refusals of values that do not fit."""

from __future__ import annotations

import math
import struct
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.convert import bytes_to_words, decode, encode, words_to_bytes
from gateway.errors import ConvertError
from protocol.modbus_map import ModbusPoint

ORDERS = st.sampled_from(["big", "little"])
WORD = st.integers(0, 0xFFFF)
INT_RANGES = {"int16": (-(2**15), 2**15 - 1), "uint16": (0, 2**16 - 1),
              "int32": (-(2**31), 2**31 - 1), "uint32": (0, 2**32 - 1),
              "int64": (-(2**63), 2**63 - 1), "uint64": (0, 2**64 - 1)}
WIDTH = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "int64": 4, "uint64": 4,
         "float32": 2, "float64": 4}


def point(**kw: Any) -> ModbusPoint:
    return ModbusPoint(**{"table": "holding", "address": 0, **kw})


@given(st.lists(WORD, min_size=1, max_size=4), ORDERS, ORDERS)
def test_word_byte_orders_are_inverse(words: list[int], bo: Any, wo: Any) -> None:
    """Registers -> bytes -> registers is the identity for every byte/word order."""
    assert bytes_to_words(words_to_bytes(words, bo, wo), bo, wo) == words


def test_the_four_orders_of_a_32_bit_value() -> None:
    """0x11223344 is AB CD, CD AB, BA DC and DC BA in the four documented orders."""
    p = point(type="uint32")
    assert encode(p, 0x11223344, "big", "big") == [0x1122, 0x3344]
    assert encode(p, 0x11223344, "big", "little") == [0x3344, 0x1122]
    assert encode(p, 0x11223344, "little", "big") == [0x2211, 0x4433]
    assert encode(p, 0x11223344, "little", "little") == [0x4433, 0x2211]
    assert decode(p, [0x3344, 0x1122], "big", "little") == 0x11223344


@pytest.mark.parametrize("kind", sorted(INT_RANGES))
@given(data=st.data(), bo=ORDERS, wo=ORDERS)
def test_integers_round_trip(kind: str, data: st.DataObject, bo: Any, wo: Any) -> None:
    """Every integer type decodes what it encodes, in every order, across its full range."""
    low, high = INT_RANGES[kind]
    value = data.draw(st.integers(low, high))
    p = point(type=kind)
    words = encode(p, value, bo, wo)
    assert len(words) == WIDTH[kind] and all(0 <= w <= 0xFFFF for w in words)
    assert decode(p, words, bo, wo) == value


@pytest.mark.parametrize("kind", sorted(INT_RANGES))
@given(words=st.lists(WORD, min_size=4, max_size=4), bo=ORDERS, wo=ORDERS)
def test_any_registers_decode_and_re_encode(kind: str, words: list[int], bo: Any,
                                            wo: Any) -> None:
    """Whatever a device sends decodes to a value that encodes back to the same registers
    (no register content is unrepresentable or crashes the decoder)."""
    p = point(type=kind)
    raw = words[:WIDTH[kind]]
    assert encode(p, decode(p, raw, bo, wo), bo, wo) == raw


@given(value=st.floats(width=32, allow_nan=False, allow_infinity=False), bo=ORDERS, wo=ORDERS)
def test_float32_round_trips_to_seven_digits(value: float, bo: Any, wo: Any) -> None:
    """A float32 comes back equal to 7 significant digits (what a float32 carries)."""
    p = point(type="float32")
    got = decode(p, encode(p, value, bo, wo), bo, wo)
    assert isinstance(got, float)
    assert math.isclose(got, value, rel_tol=1e-6, abs_tol=1e-38)


@given(value=st.floats(allow_nan=False, allow_infinity=False), bo=ORDERS, wo=ORDERS)
def test_float64_round_trips_exactly(value: float, bo: Any, wo: Any) -> None:
    """A float64 comes back bit for bit."""
    p = point(type="float64")
    assert decode(p, encode(p, value, bo, wo), bo, wo) == value


def test_float32_from_registers_is_rounded_to_its_precision() -> None:
    """23.1 sent as float32 reads 23.1, not 23.100000381469727."""
    p = point(type="float32")
    words = [int.from_bytes(struct.pack(">f", 23.1)[i:i + 2], "big") for i in (0, 2)]
    assert decode(p, words) == 23.1


@given(raw=st.integers(-(2**15), 2**15 - 1),
       scale=st.sampled_from([0.1, 0.01, 0.5, 2.0, 10.0]),
       offset=st.sampled_from([0.0, -40.0, 273.15]))
def test_scaled_values_round_trip_on_their_grid(raw: int, scale: float, offset: float) -> None:
    """value = raw * scale + offset, rounded to the scale's precision; encoding the value
    gives back the raw register."""
    p = point(type="int16", scale=scale, offset=offset)
    words = [raw & 0xFFFF]
    value = decode(p, words)
    assert value == round(raw * scale + offset, 4)
    assert encode(p, value) == words


def test_scale_gives_clean_decimals() -> None:
    """0.1 °C units: 231 reads 23.1 and -45 reads -4.5."""
    p = point(type="int16", scale=0.1)
    assert decode(p, [231]) == 23.1
    assert decode(p, [0xFFD3]) == -4.5
    assert encode(p, 23.1) == [231]


@given(bit=st.integers(0, 15), data=st.data())
def test_bit_fields_read_and_merge(bit: int, data: st.DataObject) -> None:
    """A bit field reads its bits only; writing it keeps the register's other bits."""
    bits = data.draw(st.integers(1, 16 - bit))
    current = data.draw(WORD)
    value = data.draw(st.integers(0, (1 << bits) - 1))
    p = point(type="uint16", bit=bit, bits=bits)
    [merged] = encode(p, value, current=current)
    assert decode(p, [merged]) == value
    mask = ((1 << bits) - 1) << bit
    assert merged & ~mask & 0xFFFF == current & ~mask & 0xFFFF


def test_bool_bits_and_bit_tables() -> None:
    """A bool bit of a status word, and coils/discrete inputs, read as True/False."""
    status = point(table="input", type="bool", bit=2)
    assert decode(status, [0b100]) is True and decode(status, [0b011]) is False
    coil = ModbusPoint(table="coil", address=3)
    assert decode(coil, [1]) is True and encode(coil, False) == [False]


@given(text=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=16),
       bo=ORDERS)
def test_strings_round_trip(text: str, bo: Any) -> None:
    """Up to 2 × length ASCII characters come back (padding NULs stripped)."""
    p = point(type="string", length=8)
    words = encode(p, text, bo)
    assert len(words) == 8
    assert decode(p, words, bo) == text


@pytest.mark.parametrize(("kw", "value"), [
    ({"type": "uint16"}, 70000), ({"type": "uint16"}, -1), ({"type": "int16"}, 40000),
    ({"type": "int32"}, 2**31), ({"type": "uint16"}, "12"), ({"type": "uint16"}, True),
    ({"type": "uint16"}, math.nan), ({"type": "string", "length": 2}, "toolong"),
    ({"type": "uint16", "bit": 4, "bits": 2}, 4), ({"type": "float32"}, 1e39),
])
def test_values_that_do_not_fit_are_refused(kw: dict[str, Any], value: Any) -> None:
    """Out of range, wrong type, too long: a ConvertError, never a truncated write."""
    with pytest.raises(ConvertError):
        encode(point(**kw), value)


def test_coils_take_only_booleans() -> None:
    """A coil refuses 2 (only true/false, 0/1)."""
    with pytest.raises(ConvertError):
        encode(ModbusPoint(table="coil", address=0), 2)
