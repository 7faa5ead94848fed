"""DeviceLink: devices on one serial port share a client, and the port closes with its last device."""

from __future__ import annotations

from typing import Any

import pytest

from edge_agent.sources.modbus import client as client_module
from edge_agent.sources.modbus.client import DeviceLink
from edge_agent.sources.modbus.config import ModbusRtuDevice


class StandInClient:
    def __init__(self) -> None:
        self.connected = False
        self.closed = False

    async def connect(self) -> bool:
        self.connected = True
        return True

    def close(self) -> None:
        self.connected = False
        self.closed = True


def rtu(unit: int, port: str = "/dev/ttyTEST0") -> ModbusRtuDevice:
    return ModbusRtuDevice.model_validate({"type": "modbus_rtu", "name": f"d{unit}", "port": port,
                                           "unit": unit, "points": [{"name": f"p{unit}", "address": 0}]})


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[StandInClient]:
    clients: list[StandInClient] = []

    def build(_config: Any) -> StandInClient:
        clients.append(StandInClient())
        return clients[-1]

    monkeypatch.setattr(client_module, "build_client", build)
    return clients


async def test_one_client_per_port_closed_by_the_last_device(made: list[StandInClient]) -> None:
    a, b, other = DeviceLink(rtu(1)), DeviceLink(rtu(2)), DeviceLink(rtu(3, "/dev/ttyTEST1"))
    ca, cb, cother = await a.open(), await b.open(), await other.open()
    assert ca is cb is made[0]
    assert cother is made[1]
    a.release(ca)
    assert not made[0].closed
    b.release(cb)
    assert made[0].closed
    other.release(cother)
    assert DeviceLink._serial_lines == {}


async def test_a_replaced_client_is_closed_and_forgotten(made: list[StandInClient]) -> None:
    a, b = DeviceLink(rtu(1)), DeviceLink(rtu(2))
    old = await a.open()
    assert await b.open() is old
    old.connected = False  # the line went down
    a.release(old)
    new = await a.open()
    assert new is not old
    assert new is made[1]
    b.release(old)  # b notices late
    assert not made[1].closed, "b's late release leaves a's new client alone"
    a.release(new)
    assert made[1].closed
    assert DeviceLink._serial_lines == {}
