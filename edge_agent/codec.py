"""Modbus register codec: values to and from 16-bit registers, in any byte and word order.

Order names used by device manuals, for the float32 0x42F6E979 (123.456):

=========  ==========  ==========  ===============
name       byte_order  word_order  registers
=========  ==========  ==========  ===============
ABCD       big         big         0x42F6 0xE979
CDAB       big         little      0xE979 0x42F6
BADC       little      big         0xF642 0x79E9
DCBA       little      little      0x79E9 0xF642
=========  ==========  ==========  ===============

``byte_order`` is the order of the two bytes inside each register, ``word_order`` the order of
the registers of a multi-register value. Strings take two characters per register (first character
in the high byte for ``byte_order="big"``); ``word_order`` does not apply to them. A ``bool`` is a
register that is non-zero or, with ``bit``, one bit of a register (0 = least significant).
Scale and offset are a separate step: :func:`scale_value`.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Final, Literal

Value = float | int | bool | str
DType = Literal["bool", "int16", "uint16", "int32", "uint32", "int64", "uint64",
                "float32", "float64", "string"]
Order = Literal["big", "little"]

STRUCT_CODES: Final[dict[str, str]] = {"int16": "h", "uint16": "H", "int32": "i", "uint32": "I",
                                       "int64": "q", "uint64": "Q", "float32": "f", "float64": "d"}
"""``struct`` format characters of the numeric dtypes."""
REGISTER_WIDTH: Final[dict[str, int]] = {
    "bool": 1, **{dtype: struct.calcsize(code) // 2 for dtype, code in STRUCT_CODES.items()}}
STRING_ENCODING: Final = "utf-8"


class CodecError(ValueError):
    """Registers that cannot hold or represent the value (wrong count, out of range)."""


def register_count(dtype: DType, length: int | None = None) -> int:
    """Registers one value of ``dtype`` occupies (``length`` for strings)."""
    if dtype == "string":
        if length is None or length < 1:
            raise CodecError("a string needs a length of at least one register")
        return length
    return REGISTER_WIDTH[dtype]


def buffer_endian(byte_order: Order, word_order: Order) -> str:
    """The ``struct`` byte order to pack a value's raw registers with before unpacking it.

    Packing the registers little-endian swaps the two bytes of every register: that turns BADC
    into ABCD and CDAB into DCBA, so after it :func:`value_endian` alone decides. ABCD and DCBA
    need no swap.
    """
    return ">" if byte_order == word_order else "<"


def value_endian(word_order: Order) -> str:
    """The ``struct`` byte order of a value in a buffer packed with :func:`buffer_endian`."""
    return ">" if word_order == "big" else "<"


def registers_to_bytes(words: Sequence[int], endian: str = ">") -> bytes:
    """Pack registers as the device sent them (``>``) or with each register's bytes swapped (``<``)."""
    try:
        return struct.pack(f"{endian}{len(words)}H", *words)
    except struct.error as exc:
        raise CodecError(f"registers must be integers 0..65535: {exc}") from None


def bytes_to_registers(data: bytes, endian: str = ">") -> list[int]:
    """The inverse of :func:`registers_to_bytes`."""
    return list(struct.unpack(f"{endian}{len(data) // 2}H", data))


def decode_registers(words: Sequence[int], dtype: DType, *, byte_order: Order = "big",
                     word_order: Order = "big", bit: int | None = None) -> Value:
    """The value that ``words`` (one value's registers, in the order read) hold."""
    if dtype == "bool":
        if len(words) != 1:
            raise CodecError(f"bool takes 1 register, got {len(words)}")
        return bool(words[0]) if bit is None else bool((words[0] >> bit) & 1)
    if dtype == "string":
        data = registers_to_bytes(words, buffer_endian(byte_order, "big"))
        return data.rstrip(b"\x00").decode(STRING_ENCODING, errors="replace")
    width = REGISTER_WIDTH[dtype]
    if len(words) != width:
        raise CodecError(f"{dtype} takes {width} registers, got {len(words)}")
    data = registers_to_bytes(words, buffer_endian(byte_order, word_order))
    value: Value = struct.unpack(f"{value_endian(word_order)}{STRUCT_CODES[dtype]}", data)[0]
    return value


def encode_registers(value: Value, dtype: DType, *, byte_order: Order = "big",
                     word_order: Order = "big", length: int | None = None) -> list[int]:
    """The registers that hold ``value``; the inverse of :func:`decode_registers`.

    A string is NUL-padded to ``length`` registers (default: just long enough) and must fit.
    """
    if dtype == "bool":
        return [1 if value else 0]
    if dtype == "string":
        data = str(value).encode(STRING_ENCODING)
        size = length if length is not None else (len(data) + 1) // 2
        if len(data) > 2 * size:
            raise CodecError(f"{len(data)} bytes do not fit in {size} registers")
        return bytes_to_registers(data.ljust(2 * size, b"\x00"), buffer_endian(byte_order, "big"))
    try:
        data = struct.pack(f"{value_endian(word_order)}{STRUCT_CODES[dtype]}", value)
    except struct.error as exc:
        raise CodecError(f"{value!r} does not fit {dtype}: {exc}") from None
    return bytes_to_registers(data, buffer_endian(byte_order, word_order))


def scale_value(raw: Value, scale: float = 1.0, offset: float = 0.0) -> Value:
    """Engineering value ``raw * scale + offset``; booleans, strings and unscaled values pass as is.

    Integer registers with a decimal scale are rounded to the scale's and offset's decimals, so a
    raw 123 with scale 0.1 reads 12.3 rather than 12.300000000000001.
    """
    if isinstance(raw, bool | str) or (scale == 1.0 and offset == 0.0):
        return raw
    value = raw * scale + offset
    if isinstance(raw, int):
        digits = scale_digits(scale, offset)
        if digits is not None:
            return round(value, digits)
    return value


def scale_digits(scale: float, offset: float) -> int | None:
    """Decimals that ``int * scale + offset`` can carry (None when a factor is not a short decimal)."""
    digits = 0
    for number in (scale, offset):
        text = repr(float(number))
        if "e" in text or "E" in text:
            return None
        decimals = len(text.partition(".")[2].rstrip("0"))
        if decimals > 9:
            return None
        digits = max(digits, decimals)
    return digits
