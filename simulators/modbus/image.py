"""The simulator's register image: the profile's signals encoded into the four Modbus tables.

Registers are kept in pymodbus's layout (bits packed sixteen to a register, bit 0 first), so a
request's slice is copied into the served block as is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from edge_agent.codec import CodecError, decode_registers, encode_registers
from simulators.profiles import MapEntry, SignalValue

BIT_TABLES: Final = ("coil", "discrete_input")
TABLES: Final = ("coil", "discrete_input", "holding_register", "input_register")
_INT_RANGE: Final = {"int16": (-(2**15), 2**15 - 1), "uint16": (0, 2**16 - 1),
                     "int32": (-(2**31), 2**31 - 1), "uint32": (0, 2**32 - 1),
                     "int64": (-(2**63), 2**63 - 1), "uint64": (0, 2**64 - 1)}


def raw_registers(entry: MapEntry, value: SignalValue) -> list[int]:
    """The registers ``entry`` holds for engineering ``value`` (scaled, rounded, clamped)."""
    raw: SignalValue = value
    if entry.dtype in _INT_RANGE:
        low, high = _INT_RANGE[entry.dtype]
        raw = min(high, max(low, round((float(value) - entry.offset) / entry.scale)))
    elif entry.dtype.startswith("float"):
        raw = (float(value) - entry.offset) / entry.scale
    return encode_registers(raw, entry.dtype, word_order=entry.word_order, length=entry.length)


class RegisterImage:
    """Current register values per table, updated from a model, frozen where a value is stuck."""

    def __init__(self, entries: Sequence[MapEntry], stuck: frozenset[int] = frozenset()) -> None:
        self.entries = list(entries)
        self.size = {t: max((e.address + e.width for e in self.entries if e.table == t), default=1)
                     for t in TABLES}
        self.registers: dict[str, list[int]] = {
            t: [0] * (-(-self.size[t] // 16) if t in BIT_TABLES else self.size[t]) for t in TABLES}
        self._live = [e for e in self.entries
                      if not any(e.address <= a < e.address + e.width for a in stuck)]

    def update(self, values: dict[str, SignalValue]) -> None:
        """Write the model's latest values into every entry that is not stuck."""
        for entry in self._live:
            value = values.get(entry.signal.key)
            if value is None:
                continue
            if entry.table in BIT_TABLES:
                self.set_bit(entry.table, entry.address, bool(value))
            else:
                table = self.registers[entry.table]
                table[entry.address:entry.address + entry.width] = raw_registers(entry, value)

    def set_bit(self, table: str, address: int, value: bool) -> None:
        word, bit = divmod(address, 16)
        regs = self.registers[table]
        regs[word] = regs[word] | (1 << bit) if value else regs[word] & ~(1 << bit)

    def write(self, table: str, address: int, values: Sequence[int] | Sequence[bool]) -> None:
        """Apply a client's write to the image."""
        if table in BIT_TABLES:
            for i, v in enumerate(values):
                self.set_bit(table, address + i, bool(v))
        else:
            self.registers[table][address:address + len(values)] = [int(v) for v in values]

    def written_signals(self, table: str, address: int, count: int) -> dict[str, SignalValue]:
        """The writable signals a write of ``count`` from ``address`` touched, decoded from the image."""
        out: dict[str, SignalValue] = {}
        for e in self.entries:
            if e.table != table or not e.signal.writable or e.address >= address + count \
                    or e.address + e.width <= address:
                continue
            if table in BIT_TABLES:
                word, bit = divmod(e.address, 16)
                out[e.signal.key] = bool((self.registers[table][word] >> bit) & 1)
                continue
            try:
                raw = decode_registers(self.registers[table][e.address:e.address + e.width], e.dtype,
                                       word_order=e.word_order)
            except CodecError:
                continue
            out[e.signal.key] = raw if isinstance(raw, bool | str) else raw * e.scale + e.offset
        return out
