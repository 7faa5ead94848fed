"""The simulator's register image: values land where the map says, stuck values stay put."""

from __future__ import annotations

import pytest

from edge_agent.codec import decode_registers
from simulators.modbus.image import RegisterImage, raw_registers
from simulators.profiles import build_model, modbus_map

T0 = 1_790_000_000.0


def test_values_decode_back_from_their_registers() -> None:
    model = build_model("reefer")
    entries = modbus_map("reefer", model)
    image = RegisterImage(entries)
    values = model.sample(T0)
    image.update(values)
    for e in entries:
        if e.table in ("coil", "discrete_input"):
            word, bit = divmod(e.address, 16)
            assert bool(image.registers[e.table][word] >> bit & 1) is values[e.signal.key]
            continue
        raw = decode_registers(image.registers[e.table][e.address:e.address + e.width], e.dtype,
                               word_order=e.word_order)
        if isinstance(raw, str):
            assert raw == values[e.signal.key]
        else:
            assert raw * e.scale + e.offset == pytest.approx(values[e.signal.key], abs=e.scale, rel=1e-6)


def test_stuck_addresses_keep_their_first_value() -> None:
    model = build_model("pump-station", points=30)
    entries = modbus_map("pump-station", model)
    image = RegisterImage(entries, stuck=frozenset({1}))  # inside the float32 at input register 0
    image.update(model.sample(T0))
    image.registers["input_register"][0:2] = [0x1234, 0x5678]
    image.update(model.sample(T0 + 10))
    assert image.registers["input_register"][0:2] == [0x1234, 0x5678]
    assert image.registers["input_register"][2:4] != [0, 0]


def test_integers_are_clamped_and_rounded() -> None:
    entry = next(e for e in modbus_map("reefer", build_model("reefer")) if e.signal.field == "Speed")
    assert raw_registers(entry, 12.34) == [123]
    assert raw_registers(entry, -5.0) == [0]
    assert raw_registers(entry, 1e9) == [0xFFFF]


def test_writes_reach_writable_signals_only() -> None:
    model = build_model("reefer")
    image = RegisterImage(modbus_map("reefer", model))
    image.write("holding_register", 0, [0xFF06])  # int16 -250, scale 0.1
    assert image.written_signals("holding_register", 0, 1) == {"Reefer.Setpoint": pytest.approx(-25.0)}
    assert image.written_signals("holding_register", 1, 6) == {}
