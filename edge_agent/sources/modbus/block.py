"""Decoders of whole responses: every point of a read request from one ``struct`` unpack.

One ``struct.unpack_from`` over a 125-register response costs about as much as decoding one value
with a generic converter (see FIELD-NOTES), so a request's layout is compiled once, when the read
plan is made, and reused every poll.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from edge_agent.codec import (
    STRING_ENCODING,
    STRUCT_CODES,
    CodecError,
    DType,
    Order,
    Value,
    buffer_endian,
    register_count,
    scale_digits,
    value_endian,
)

Convert = Callable[[Any], Value]


@dataclass(frozen=True, slots=True)
class Field:
    """One value inside a block of registers: where it starts (registers from the block start)
    and how it decodes."""

    offset: int
    dtype: DType
    byte_order: Order = "big"
    word_order: Order = "big"
    bit: int | None = None
    length: int | None = None
    scale: float = 1.0
    value_offset: float = 0.0

    @property
    def width(self) -> int:
        return register_count(self.dtype, self.length)

    def layout_key(self) -> tuple[Order, Order]:
        """(byte order, word order) after dropping what cannot matter for this field."""
        if self.dtype == "bool":
            return ("big", "big")
        if self.dtype == "string":
            return (self.byte_order, "big")
        if self.width == 1:
            return (self.byte_order, self.byte_order)
        return (self.byte_order, self.word_order)

    def struct_code(self) -> str:
        if self.dtype == "bool":
            return "H"
        if self.dtype == "string":
            return f"{2 * self.width}s"
        return STRUCT_CODES[self.dtype]

    def converter(self) -> Convert | None:
        """What turns the unpacked item into the engineering value (None: nothing to do)."""
        if self.dtype == "bool":
            bit = self.bit
            if bit is None:
                return bool
            return lambda raw: bool((raw >> bit) & 1)
        if self.dtype == "string":
            return _decode_string
        if self.scale == 1.0 and self.value_offset == 0.0:
            return None
        scale, offset = self.scale, self.value_offset
        digits = scale_digits(scale, offset) if not self.dtype.startswith("float") else None
        if digits is None:
            return lambda raw: raw * scale + offset
        return lambda raw: round(raw * scale + offset, digits)


@dataclass(frozen=True, slots=True)
class _Lane:
    """Fields that share one byte layout and do not overlap: one ``struct`` call."""

    buffer_endian: str
    unpack: Callable[[bytes], tuple[Any, ...]]
    targets: tuple[int, ...]
    converters: tuple[Convert | None, ...]


class RegisterBlockDecoder:
    """Decodes a response of ``count`` registers into the values of ``fields``, in their order."""

    __slots__ = ("_count", "_lanes", "_size")

    def __init__(self, fields: Sequence[Field], count: int) -> None:
        for f in fields:
            if f.offset < 0 or f.offset + f.width > count:
                raise CodecError(f"field at register {f.offset} (+{f.width}) is outside the block of {count}")
        self._count = count
        self._size = len(fields)
        self._lanes = tuple(_compile_lanes(fields))

    def __call__(self, registers: Sequence[int]) -> list[Value]:
        if len(registers) < self._count:
            raise CodecError(f"expected {self._count} registers, got {len(registers)}")
        out: list[Value] = [0] * self._size
        buffers: dict[str, bytes] = {}
        for lane in self._lanes:
            buf = buffers.get(lane.buffer_endian)
            if buf is None:
                try:
                    buf = struct.pack(f"{lane.buffer_endian}{self._count}H", *registers[: self._count])
                except struct.error as exc:
                    raise CodecError(f"registers must be integers 0..65535: {exc}") from None
                buffers[lane.buffer_endian] = buf
            for target, convert, raw in zip(lane.targets, lane.converters, lane.unpack(buf), strict=True):
                out[target] = raw if convert is None else convert(raw)
        return out


def _decode_string(raw: bytes) -> str:
    return raw.rstrip(b"\x00").decode(STRING_ENCODING, errors="replace")


def _compile_lanes(fields: Sequence[Field]) -> list[_Lane]:
    open_lanes: dict[tuple[Order, Order], list[list[tuple[int, Field]]]] = {}
    order = sorted(range(len(fields)), key=lambda i: fields[i].offset)
    for index in order:
        f = fields[index]
        lanes = open_lanes.setdefault(f.layout_key(), [])
        for lane in lanes:
            last = lane[-1][1]
            if last.offset + last.width <= f.offset:
                lane.append((index, f))
                break
        else:
            lanes.append([(index, f)])
    compiled = []
    for (byte_order, word_order), lanes in open_lanes.items():
        for lane in lanes:
            parts = []
            position = 0
            for _, f in lane:
                if f.offset > position:
                    parts.append(f"{2 * (f.offset - position)}x")
                parts.append(f.struct_code())
                position = f.offset + f.width
            unpacker = struct.Struct(value_endian(word_order) + "".join(parts))
            compiled.append(_Lane(buffer_endian=buffer_endian(byte_order, word_order),
                                  unpack=unpacker.unpack_from,
                                  targets=tuple(i for i, _ in lane),
                                  converters=tuple(f.converter() for _, f in lane)))
    return compiled


class BitBlockDecoder:
    """Picks the bits of coils or discrete inputs out of a response of ``count`` bits."""

    __slots__ = ("_count", "_offsets")

    def __init__(self, offsets: Sequence[int], count: int) -> None:
        if any(o < 0 or o >= count for o in offsets):
            raise CodecError(f"bit offsets must lie within the block of {count}")
        self._offsets = tuple(offsets)
        self._count = count

    def __call__(self, bits: Sequence[int]) -> list[Value]:
        if len(bits) < self._count:
            raise CodecError(f"expected {self._count} bits, got {len(bits)}")
        return [bool(bits[o]) for o in self._offsets]
