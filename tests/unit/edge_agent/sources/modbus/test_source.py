"""ModbusSource's mapping of device answers to readings and counters, with a stand-in client."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from pymodbus.exceptions import ConnectionException, ModbusIOException

from edge_agent.envelope import Quality
from edge_agent.sources.modbus import client as client_module
from edge_agent.sources.modbus.config import ModbusTcpDevice
from edge_agent.sources.modbus.source import ModbusSource
from edge_agent.sources.status import DECODE_ERROR, DISCONNECTED, TIMEOUT

CONFIG = ModbusTcpDevice.model_validate({
    "type": "modbus_tcp", "name": "plc", "host": "192.0.2.1", "reconnect_min": 60, "points": [
        {"name": "temp", "table": "input_register", "address": 0, "dtype": "int16", "scale": 0.1},
        {"name": "run", "table": "coil", "address": 0, "dtype": "bool"}]})


@dataclass
class Response:
    registers: list[int] = field(default_factory=list)
    bits: list[bool] = field(default_factory=list)
    exception_code: int = 0

    def isError(self) -> bool:
        return self.exception_code != 0


class StandInClient:
    """Answers each read with the next scripted response (or raises it)."""

    def __init__(self, script: list[Any]) -> None:
        self.script = script
        self.connected = True

    async def connect(self) -> bool:
        return True

    def close(self) -> None:
        self.connected = False

    async def _next(self, *_: Any, **__: Any) -> Any:
        item = self.script.pop(0)
        if isinstance(item, BaseException):
            if isinstance(item, ConnectionException):
                self.connected = False
            raise item
        return item

    read_input_registers = read_coils = _next


@pytest.fixture
def script(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    steps: list[Any] = []
    monkeypatch.setattr(client_module, "build_client", lambda _config: StandInClient(steps))
    return steps


async def test_good_answers_become_scaled_good_readings(script: list[Any]) -> None:
    script += [Response(bits=[True] + [False] * 7), Response(registers=[0xFF9C])]
    async with ModbusSource(CONFIG) as source:
        readings = {r.point: r for r in await source.poll()}
    assert (readings["temp"].v, readings["temp"].q) == (-10.0, Quality.GOOD)
    assert readings["run"].v is True
    c = source.counters
    assert (c.get("requests"), c.get("responses"), c.get("points_read")) == (2, 2, 2)


async def test_each_failure_has_its_code_and_counter(script: list[Any]) -> None:
    script += [Response(exception_code=2), Response(registers=[])]  # wrong length: cannot decode
    script += [ModbusIOException("no response"), ConnectionException("gone")]
    async with ModbusSource(CONFIG) as source:
        first = {r.point: r for r in await source.poll()}
        second = {r.point: r for r in await source.poll()}
        third = await source.poll()
    assert (first["run"].q, first["run"].code, first["run"].v) == (Quality.BAD, 2, None)
    assert (first["temp"].q, first["temp"].code) == (Quality.BAD, DECODE_ERROR)
    assert second["run"].code == TIMEOUT
    assert second["temp"].code == DISCONNECTED
    assert {r.code for r in third} == {DISCONNECTED}, "no connection: nothing is sent"
    c = source.counters
    assert (c.get("exceptions"), c.get("decode_errors"), c.get("timeouts")) == (1, 1, 1)
    assert c.get("requests") == 4 + 2, "the third cycle's requests are due, though not sent"
    assert c.get("disconnected") == 1 + 2
    assert c.get("requests") == sum(c.get(k) for k in ("responses", "exceptions", "timeouts", "disconnected"))
    assert c.get("points_read") == 0


def test_only_modbus_configs_are_accepted() -> None:
    with pytest.raises(TypeError, match="modbus_tcp or modbus_rtu"):
        ModbusSource(object())  # type: ignore[arg-type]
