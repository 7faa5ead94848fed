"""A Modbus device simulator: a real pymodbus server serving a profile's signals, with faults.

The served device is a pymodbus :class:`~pymodbus.simulator.SimDevice` with one block per table;
its ``action`` hook (called on every request) copies the current values from the simulator's
:class:`~simulators.modbus.image.RegisterImage` into the block and injects exception faults. The
``trace_packet`` hook drops replies for the timeout fault.

    async with ModbusSimulator("pump-station", port=0, points=1000) as sim:
        ...  # sim.port is the bound port; sim.device_config() is a modbus_tcp device config
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Sequence
from typing import Any, Literal, Self

from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerType
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from edge_agent.metrics import Counters
from simulators.modbus.faults import Faults
from simulators.modbus.image import BIT_TABLES, TABLES, RegisterImage
from simulators.profiles import build_model, modbus_map

log = logging.getLogger(__name__)

_FC_TABLE = {1: "coil", 5: "coil", 15: "coil", 2: "discrete_input", 4: "input_register",
             **dict.fromkeys((3, 6, 16, 22, 23), "holding_register")}


class ModbusSimulator:
    """Serves ``profile`` on Modbus/TCP (``framer="socket"``), RTU over TCP (``"rtu"``), or serial
    RTU when ``serial_port`` is given. Values change every ``update_interval`` seconds.

    ``stats`` counts ``requests``, ``exceptions`` (injected), ``unanswered`` (timeout fault) and
    ``drops`` (connections closed by the drop fault).
    """

    def __init__(self, profile: str = "pump-station", *, host: str = "127.0.0.1", port: int = 0,
                 unit: int = 1, points: int | None = None, faults: Faults | None = None,
                 update_interval: float = 1.0, seed: int = 0,
                 framer: Literal["socket", "rtu"] = "socket", serial_port: str | None = None,
                 baudrate: int = 19200, parity: Literal["N", "E", "O"] = "E",
                 more_units: Sequence[int] = ()) -> None:
        self.profile = profile
        self.host = host
        self.port = port
        self.unit = unit
        self.more_units = tuple(more_units)
        """Further unit ids that answer with the same signals, as devices on one multi-drop line."""
        self.faults = faults or Faults()
        self.update_interval = update_interval
        self.framer = framer
        self.serial_port = serial_port
        self.baudrate = baudrate
        self.parity = parity
        self.model = build_model(profile, points=points, seed=seed)
        self.entries = modbus_map(profile, self.model)
        self.image = RegisterImage(self.entries, self.faults.stuck)
        self.stats = Counters()
        self._rng = random.Random(seed)
        self._server: Any = None
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Self:
        self.image.update(self.model.sample(time.time()))
        devices = [SimDevice(unit, simdata=self._blocks(), action=self._on_request)
                   for unit in (self.unit, *self.more_units)]
        if self.serial_port is not None:
            self._server = ModbusSerialServer(devices, framer=FramerType.RTU, port=self.serial_port,
                                              baudrate=self.baudrate, parity=self.parity,
                                              trace_packet=self._on_packet)
        else:
            framer = FramerType.RTU if self.framer == "rtu" else FramerType.SOCKET
            self._server = ModbusTcpServer(devices, framer=framer, address=(self.host, self.port),
                                           trace_packet=self._on_packet)
        await self._server.serve_forever(background=True)
        if self.serial_port is None:
            self.port = self._server.transport.sockets[0].getsockname()[1]
        self._tasks.append(asyncio.create_task(self._update_loop(), name="modbus-sim-update"))
        if self.faults.drop_every:
            self._tasks.append(asyncio.create_task(self._drop_loop(self.faults.drop_every),
                                                   name="modbus-sim-drop"))
        log.info("modbus_simulator_started", extra={"profile": self.profile, "port": self.port,
                                                    "signals": len(self.entries)})
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._server is not None:
            await self._server.shutdown()
            self._server = None

    def point_configs(self) -> list[dict[str, Any]]:
        """The register map as agent config points."""
        return [e.point_config() for e in self.entries]

    def device_config(self, name: str = "sim", **overrides: Any) -> dict[str, Any]:
        """A ``modbus_tcp`` device config that polls this simulator (TCP only)."""
        config: dict[str, Any] = {"type": "modbus_tcp", "name": name, "host": self.host, "port": self.port,
                                  "unit": self.unit, "framer": self.framer, "points": self.point_configs()}
        return {**config, **overrides}

    def drop_connections(self) -> int:
        """Close every client connection now; returns how many were open."""
        connections = list(self._server.active_connections.values()) if self._server else []
        for connection in connections:
            connection.close()
        self.stats.inc("drops", len(connections))
        return len(connections)

    def _blocks(self) -> tuple[list[SimData], list[SimData], list[SimData], list[SimData]]:
        blocks = []
        for table in TABLES:
            size = self.image.size[table]
            if table in BIT_TABLES:
                blocks.append([SimData(0, values=[False] * (-(-size // 16) * 16), datatype=DataType.BITS)])
            else:
                blocks.append([SimData(0, values=[0] * size, datatype=DataType.REGISTERS)])
        return blocks[0], blocks[1], blocks[2], blocks[3]

    async def _on_request(self, function_code: int, start_address: int, address: int, count: int,
                          registers: list[int], set_values: list[int] | list[bool] | None) -> ExcCodes | None:
        """pymodbus ``SimDevice.action``: for coils and discrete inputs ``address`` is the bit
        address and ``count`` the number of 16-bit words the request spans (so exception faults,
        which need the exact range, apply to register tables only)."""
        self.stats.inc("requests")
        table = _FC_TABLE[function_code]
        bits = table in BIT_TABLES
        code = None if bits else self.faults.exception_for(address, count)
        if code is not None:
            self.stats.inc("exceptions")
            return ExcCodes(code)
        if set_values is not None:
            self.image.write(table, address, set_values)
            for key, value in self.image.written_signals(table, address, len(set_values)).items():
                self.model.set(key, value)
            return None
        first = address // 16 if bits else address
        source = self.image.registers[table]
        registers[first - start_address:first - start_address + count] = source[first:first + count]
        return None

    def _on_packet(self, sending: bool, data: bytes) -> bytes:
        """pymodbus ``trace_packet``: an empty reply is never sent, which the client sees as a timeout."""
        probability = self.faults.timeout_probability
        if sending and probability and self._rng.random() < probability:
            self.stats.inc("unanswered")
            return b""
        return data

    async def _update_loop(self) -> None:
        due = time.monotonic()
        while True:
            due += self.update_interval
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            self.image.update(self.model.sample(time.time()))
            due = max(due, time.monotonic() - self.update_interval)

    async def _drop_loop(self, period: float) -> None:
        while True:
            await asyncio.sleep(period)
            dropped = self.drop_connections()
            log.info("modbus_simulator_dropped_connections", extra={"connections": dropped})


async def serve(simulator: ModbusSimulator, stop: asyncio.Event | None = None) -> None:
    """Run ``simulator`` until ``stop`` is set (or forever)."""
    async with simulator:
        await (stop or asyncio.Event()).wait()
