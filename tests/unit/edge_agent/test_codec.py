"""Modbus codec: known vectors in the four orders, round trips for every dtype, scaling."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_agent import decode_registers, encode_registers, scale_value
from edge_agent.codec import REGISTER_WIDTH, CodecError, DType, Order, register_count

ORDERS: list[tuple[Order, Order]] = [("big", "big"), ("big", "little"), ("little", "big"),
                                     ("little", "little")]
INT_RANGES: dict[DType, tuple[int, int]] = {
    "int16": (-(2**15), 2**15 - 1), "uint16": (0, 2**16 - 1), "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1), "int64": (-(2**63), 2**63 - 1), "uint64": (0, 2**64 - 1)}

# 123.456 as float32 is 0x42F6E979: bytes A=42 B=F6 C=E9 D=79.
FLOAT32_VECTORS = [
    ("ABCD", "big", "big", [0x42F6, 0xE979]),
    ("CDAB", "big", "little", [0xE979, 0x42F6]),
    ("BADC", "little", "big", [0xF642, 0x79E9]),
    ("DCBA", "little", "little", [0x79E9, 0xF642]),
]


@pytest.mark.parametrize(("name", "byte_order", "word_order", "words"), FLOAT32_VECTORS)
def test_float32_known_vectors(name: str, byte_order: Order, word_order: Order, words: list[int]) -> None:
    assert encode_registers(123.456, "float32", byte_order=byte_order, word_order=word_order) == words, name
    value = decode_registers(words, "float32", byte_order=byte_order, word_order=word_order)
    assert value == pytest.approx(123.456, rel=1e-7)


def test_integer_known_vectors() -> None:
    assert decode_registers([0x1234, 0x5678], "uint32") == 0x12345678
    assert decode_registers([0x5678, 0x1234], "uint32", word_order="little") == 0x12345678
    assert decode_registers([0x3412, 0x7856], "uint32", byte_order="little") == 0x12345678
    assert decode_registers([0xFFFF], "int16") == -1
    assert decode_registers([0xFFFF], "uint16") == 65535
    assert decode_registers([0x0102, 0x0304, 0x0506, 0x0708], "uint64") == 0x0102030405060708
    little_words = [0x0708, 0x0506, 0x0304, 0x0102]
    assert decode_registers(little_words, "uint64", word_order="little") == 0x0102030405060708
    assert decode_registers([0x3FF0, 0, 0, 0], "float64") == 1.0


def test_bool_and_bits() -> None:
    assert decode_registers([0], "bool") is False
    assert decode_registers([7], "bool") is True
    assert decode_registers([0b1000_0000_0000_0100], "bool", bit=2) is True
    assert decode_registers([0b1000_0000_0000_0100], "bool", bit=15) is True
    assert decode_registers([0b1000_0000_0000_0100], "bool", bit=3) is False
    assert encode_registers(True, "bool") == [1]


def test_strings() -> None:
    assert encode_registers("ABC", "string") == [0x4142, 0x4300]
    assert encode_registers("ABC", "string", length=3) == [0x4142, 0x4300, 0]
    assert decode_registers([0x4142, 0x4300, 0], "string") == "ABC"
    assert decode_registers([0x4241, 0x0043], "string", byte_order="little") == "ABC"
    with pytest.raises(CodecError):
        encode_registers("too long", "string", length=2)


@pytest.mark.parametrize("dtype", list(INT_RANGES))
def test_wrong_register_count_is_an_error(dtype: DType) -> None:
    with pytest.raises(CodecError):
        decode_registers([0] * (REGISTER_WIDTH[dtype] + 1), dtype)


def test_out_of_range_values_are_errors() -> None:
    with pytest.raises(CodecError):
        encode_registers(70000, "uint16")
    with pytest.raises(CodecError):
        encode_registers(-1, "uint32")
    with pytest.raises(CodecError):
        decode_registers([70000], "uint16")


def test_register_count() -> None:
    assert [register_count(d) for d in ("bool", "int16", "float32", "uint64", "float64")] == [1, 1, 2, 4, 4]
    assert register_count("string", 5) == 5
    with pytest.raises(CodecError):
        register_count("string")


orders = st.sampled_from(ORDERS)


@given(st.sampled_from(list(INT_RANGES)).flatmap(
    lambda d: st.tuples(st.just(d), st.integers(*INT_RANGES[d]))), orders)
def test_integers_round_trip(case: tuple[DType, int], order: tuple[Order, Order]) -> None:
    dtype, value = case
    words = encode_registers(value, dtype, byte_order=order[0], word_order=order[1])
    assert len(words) == REGISTER_WIDTH[dtype]
    assert all(0 <= w <= 0xFFFF for w in words)
    assert decode_registers(words, dtype, byte_order=order[0], word_order=order[1]) == value


@given(st.floats(width=32, allow_nan=False), orders)
def test_float32_round_trip(value: float, order: tuple[Order, Order]) -> None:
    words = encode_registers(value, "float32", byte_order=order[0], word_order=order[1])
    assert decode_registers(words, "float32", byte_order=order[0], word_order=order[1]) == value


@given(st.floats(allow_nan=False), orders)
def test_float64_round_trip(value: float, order: tuple[Order, Order]) -> None:
    words = encode_registers(value, "float64", byte_order=order[0], word_order=order[1])
    assert decode_registers(words, "float64", byte_order=order[0], word_order=order[1]) == value


@given(orders)
def test_nan_survives(order: tuple[Order, Order]) -> None:
    words = encode_registers(math.nan, "float32", byte_order=order[0], word_order=order[1])
    assert math.isnan(float(decode_registers(words, "float32", byte_order=order[0], word_order=order[1])))


TEXT = st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=40)


@given(TEXT, st.sampled_from(["big", "little"]))
def test_strings_round_trip(text: str, byte_order: Order) -> None:
    words = encode_registers(text, "string", byte_order=byte_order)
    assert decode_registers(words, "string", byte_order=byte_order) == text


@given(st.integers(0, 0xFFFF), st.integers(0, 15))
def test_bit_is_the_registers_bit(word: int, bit: int) -> None:
    assert decode_registers([word], "bool", bit=bit) is bool(word & (1 << bit))


@given(st.lists(st.integers(0, 0xFFFF), min_size=2, max_size=2))
def test_orders_are_byte_permutations(words: list[int]) -> None:
    """Every order reads the same four bytes; ABCD is plain big-endian."""
    abcd = struct.pack(">HH", *words)
    assert decode_registers(words, "uint32") == int.from_bytes(abcd, "big")
    swapped = [words[1], words[0]]
    assert decode_registers(swapped, "uint32", word_order="little") == int.from_bytes(abcd, "big")


def test_scale_value() -> None:
    assert scale_value(123, 0.1) == 12.3
    assert scale_value(-5, 0.01, 2.5) == 2.45
    assert scale_value(7) == 7
    assert isinstance(scale_value(7), int)
    assert scale_value(2.0, 2.0, 1.0) == 5.0
    assert scale_value(True, 10.0) is True
    assert scale_value("x", 10.0) == "x"
    assert scale_value(3, 1e-7) == pytest.approx(3e-7)


@given(st.integers(-32768, 32767), st.sampled_from([0.1, 0.01, 0.5, 10.0]),
       st.sampled_from([0.0, -40.0, 0.25]))
def test_scaled_integers_are_close_to_exact(raw: int, scale: float, offset: float) -> None:
    assert scale_value(raw, scale, offset) == pytest.approx(raw * scale + offset, abs=1e-9)
