"""Configuration of a Modbus/TCP or Modbus/RTU device and its points."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from edge_agent.codec import DType, Order, register_count
from edge_agent.sources.points import PointBase, StrictModel
from edge_agent.units import Duration

if TYPE_CHECKING:
    from edge_agent.interfaces import Source

Table = Literal["coil", "discrete_input", "input_register", "holding_register"]
"""Function codes 1 (coils), 2 (discrete inputs), 4 (input registers), 3 (holding registers)."""


class ModbusPoint(PointBase):
    """One value: where it lives (table, address) and how its registers decode."""

    table: Table = "holding_register"
    address: int = Field(ge=0, le=65535)
    dtype: DType = "uint16"
    byte_order: Order = "big"
    word_order: Order = "big"
    bit: int | None = Field(default=None, ge=0, le=15)
    """For ``bool`` in a register: which bit (0 = least significant)."""
    length: int | None = Field(default=None, ge=1, le=125)
    """For ``string``: number of registers (two characters each)."""
    stride: int | None = Field(default=None, ge=1)
    """Address step between the elements of an array point (default: the dtype's width)."""

    @model_validator(mode="after")
    def _dtype_fits_table(self) -> ModbusPoint:
        bit_table = self.table in ("coil", "discrete_input")
        if bit_table and self.dtype != "bool":
            raise ValueError(f"{self.table} holds single bits: dtype must be bool")
        if self.dtype == "string" and self.length is None:
            raise ValueError("dtype string needs length (registers)")
        if self.bit is not None and (bit_table or self.dtype != "bool"):
            raise ValueError("bit applies only to dtype bool in a register table")
        width = 1 if bit_table else register_count(self.dtype, self.length)
        last = self.address + (self.count - 1) * (self.stride or width) + width - 1
        if last > 65535:
            raise ValueError(f"the point ends at address {last}, beyond 65535")
        return self


class ModbusDeviceBase(StrictModel):
    """What Modbus/TCP and Modbus/RTU devices share."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    unit: int = Field(default=1, ge=0, le=255)
    """Modbus unit (slave) id."""
    poll_interval: Duration = 1.0
    timeout: Duration = 1.0
    retries: int = Field(default=1, ge=0, le=10)
    max_in_flight: int = Field(default=1, ge=1, le=16)
    """Requests of one poll issued at once on the connection; many PLCs accept only one. pymodbus
    3.16 keeps one request on the wire per connection, so values above 1 overlap only the agent's
    own work on the requests, not device round trips."""
    max_gap: int = Field(default=8, ge=0, le=120)
    """Largest run of unused registers (bits x 16) read through to merge two requests."""
    max_registers: int = Field(default=125, ge=1, le=125)
    max_bits: int = Field(default=2000, ge=1, le=2000)
    reconnect_min: Duration = 0.5
    reconnect_max: Duration = 30.0
    points: list[ModbusPoint] = Field(min_length=1)

    def build(self) -> Source:
        from edge_agent.sources.modbus.source import ModbusSource

        return ModbusSource(self)


class ModbusTcpDevice(ModbusDeviceBase):
    type: Literal["modbus_tcp"]
    host: str
    port: int = Field(default=502, ge=1, le=65535)
    framer: Literal["socket", "rtu"] = "socket"
    """``rtu`` sends RTU frames over TCP (serial-to-Ethernet gateways)."""


class ModbusRtuDevice(ModbusDeviceBase):
    type: Literal["modbus_rtu"]
    port: str
    """Serial device, e.g. /dev/ttyUSB0."""
    baudrate: int = 19200
    parity: Literal["N", "E", "O"] = "E"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8
