"""Where each simulated signal lives in the Modbus tables: the register map, published as data.

The simulator serves these addresses and tests and example configs read them, so a map changes in
one place. Raw register value = (engineering value - offset) / scale; a reader applies
``value = raw * scale + offset``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from simulators.profiles.base import SignalSpec
from simulators.profiles.pump_station import STATION_SIGNALS, PumpStation, pump_signals
from simulators.profiles.reefer import Reefer

Table = Literal["coil", "discrete_input", "input_register", "holding_register"]
DType = Literal["bool", "int16", "uint16", "int32", "uint32", "int64", "uint64",
                "float32", "float64", "string"]
Order = Literal["big", "little"]

REGISTER_WIDTH: dict[str, int] = {"bool": 1, "int16": 1, "uint16": 1, "int32": 2, "uint32": 2,
                                  "int64": 4, "uint64": 4, "float32": 2, "float64": 4}
PUMP_BASE = 100
"""First input register of pump 1; each pump takes ``PUMP_STRIDE`` registers."""
PUMP_STRIDE = 10


@dataclass(frozen=True, slots=True)
class MapEntry:
    """One signal's home: table, address, encoding and scaling."""

    signal: SignalSpec
    table: Table
    address: int
    dtype: DType
    scale: float = 1.0
    offset: float = 0.0
    length: int | None = None
    """Registers of a string (two characters each)."""
    word_order: Order = "big"

    @property
    def width(self) -> int:
        """Registers (or bits, in a bit table) the entry occupies."""
        return self.length if self.dtype == "string" and self.length else REGISTER_WIDTH[self.dtype]

    def point_config(self) -> dict[str, Any]:
        """The entry as an agent config point (``ModbusPoint`` fields)."""
        point: dict[str, Any] = {"name": self.signal.point_name, "table": self.table,
                                 "address": self.address, "dtype": self.dtype}
        if self.signal.unit:
            point["unit"] = self.signal.unit
        if self.scale != 1.0:
            point["scale"] = self.scale
        if self.offset:
            point["offset"] = self.offset
        if self.length is not None:
            point["length"] = self.length
        if self.word_order != "big":
            point["word_order"] = self.word_order
        return point


def _station_entries() -> list[MapEntry]:
    s = {spec.field: spec for spec in STATION_SIGNALS}
    return [
        MapEntry(s["TankLevel"], "input_register", 0, "float32"),
        MapEntry(s["ChlorineDose"], "input_register", 2, "float32"),
        MapEntry(s["InletPressure"], "input_register", 4, "float32"),
        MapEntry(s["StationFlow"], "input_register", 6, "float32"),
        MapEntry(s["TotalVolume"], "input_register", 8, "float64"),
        MapEntry(s["WaterTemp"], "input_register", 12, "int16", scale=0.1),
        MapEntry(s["AlarmWord"], "input_register", 13, "uint16"),
        MapEntry(s["PumpsRunning"], "input_register", 14, "uint16"),
        MapEntry(s["LevelSetpoint"], "holding_register", 0, "float32"),
        MapEntry(s["Name"], "holding_register", 2, "string", length=8),
    ]


def _pump_entries(pump: int) -> list[MapEntry]:
    specs = {spec.field: spec for spec in pump_signals(pump)}
    base = PUMP_BASE + (pump - 1) * PUMP_STRIDE
    return [
        MapEntry(specs["Flow"], "input_register", base, "float32"),
        MapEntry(specs["Pressure"], "input_register", base + 2, "float32"),
        MapEntry(specs["Current"], "input_register", base + 4, "float32"),
        MapEntry(specs["Speed"], "input_register", base + 6, "float32"),
        MapEntry(specs["RunHours"], "input_register", base + 8, "uint32"),
        MapEntry(specs["Running"], "coil", pump - 1, "bool"),
        MapEntry(specs["Fault"], "discrete_input", pump - 1, "bool"),
    ]


MAX_PUMPS = (65536 - PUMP_BASE) // PUMP_STRIDE


def pump_station_map(station: PumpStation) -> list[MapEntry]:
    """Station registers first, then ``PUMP_STRIDE`` input registers, one coil and one input per pump."""
    if station.pumps > MAX_PUMPS:
        raise ValueError(f"at most {MAX_PUMPS} pumps fit in the register map")
    return _station_entries() + [e for p in range(1, station.pumps + 1) for e in _pump_entries(p)]


def reefer_map(_: Reefer | None = None) -> list[MapEntry]:
    """A reefer controller's map: CDAB floats (low word first), as many such controllers use."""
    s = {spec.field: spec for spec in Reefer.signals}
    return [
        MapEntry(s["ReturnAir"], "input_register", 0, "float32", word_order="little"),
        MapEntry(s["SupplyAir"], "input_register", 2, "float32", word_order="little"),
        MapEntry(s["Ambient"], "input_register", 4, "int16", scale=0.1),
        MapEntry(s["FuelLevel"], "input_register", 5, "uint16", scale=0.1),
        MapEntry(s["Latitude"], "input_register", 6, "float64"),
        MapEntry(s["Longitude"], "input_register", 10, "float64"),
        MapEntry(s["Speed"], "input_register", 14, "uint16", scale=0.1),
        MapEntry(s["EngineHours"], "input_register", 15, "uint32"),
        MapEntry(s["AlarmWord"], "input_register", 17, "uint16"),
        MapEntry(s["Setpoint"], "holding_register", 0, "int16", scale=0.1),
        MapEntry(s["ContainerId"], "holding_register", 1, "string", length=6),
        MapEntry(s["Compressor"], "coil", 0, "bool"),
        MapEntry(s["DoorOpen"], "discrete_input", 0, "bool"),
    ]
