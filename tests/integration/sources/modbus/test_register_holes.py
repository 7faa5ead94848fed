"""A hole in a device's register map (exception 2) costs only the points in it, not their neighbours."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import pytest
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from edge_agent.envelope import Quality
from edge_agent.sources.modbus.holes import ILLEGAL_DATA_ADDRESS
from edge_agent.sources.modbus.source import ModbusSource
from simulators.modbus.faults import parse_faults
from simulators.modbus.server import ModbusSimulator
from tests.integration.sources.modbus.helpers import by_point, tcp_device

FAST = {"poll_interval": 0.1, "timeout": 2.0, "retries": 0}


@pytest.fixture
async def holey_plc() -> AsyncIterator[int]:
    """A pymodbus server whose holding registers 0..9 and 12..29 exist (value = address * 10) and
    10..11 do not: a read that covers 10 or 11 is refused with exception 2."""
    regs = [SimData(0, values=[a * 10 for a in range(10)], datatype=DataType.REGISTERS),
            SimData(12, values=[a * 10 for a in range(12, 30)], datatype=DataType.REGISTERS)]
    bits = [SimData(0, values=[False] * 16, datatype=DataType.BITS)]
    inputs = [SimData(0, values=[0] * 16, datatype=DataType.REGISTERS)]
    server = ModbusTcpServer([SimDevice(1, simdata=(bits, bits, regs, inputs))], address=("127.0.0.1", 0))
    await server.serve_forever(background=True)
    yield server.transport.sockets[0].getsockname()[1]
    await server.shutdown()


def _device(port: int, addresses: list[int]) -> dict[str, object]:
    return {"type": "modbus_tcp", "name": "plc", "host": "127.0.0.1", "port": port, **FAST,
            "points": [{"name": f"r{a}", "address": a} for a in addresses]}


async def test_a_point_on_a_hole_is_found_and_kept_apart(holey_plc: int) -> None:
    addresses = [*range(10), 10, *range(12, 20)]
    source = ModbusSource(tcp_device(_device(holey_plc, addresses)))
    assert len(source.plan.requests) == 1  # one coalesced read over the hole
    async with source:
        first = by_point(await source.poll())
        plan = source.plan
        requests_before = source.counters.get("requests")
        second = by_point(await source.poll())
        requests_per_poll = source.counters.get("requests") - requests_before
    for readings in (first, second):
        assert (readings["r10"].q, readings["r10"].code, readings["r10"].v) == (Quality.BAD, ILLEGAL_DATA_ADDRESS, None)
        good = {name: r for name, r in readings.items() if name != "r10"}
        assert all(r.q is Quality.GOOD for r in good.values()), [r for r in good.values() if r.q]
        assert {name: r.v for name, r in good.items()} == {f"r{a}": a * 10 for a in addresses if a != 10}
    assert source.plan is plan, "the plan is settled after the first poll"
    assert [r.names for r in plan.requests if len(r.points) == 1 and r.address == 10] == [("r10",)]
    assert requests_per_poll == len(plan.requests) <= 2 * math.ceil(math.log2(len(addresses))) + 1
    assert source.counters.get("read_splits") == 1
    # first poll: the whole read, three refused halves down to r10, and r10 alone; second poll: r10 only
    assert source.counters.get("exceptions") == 1 + 3 + 1 + 1


async def test_a_hole_between_points_is_read_around(holey_plc: int) -> None:
    addresses = [8, 9, 12, 13]  # the coalesced read 8..13 covers the hole; no point is on it
    async with ModbusSource(tcp_device(_device(holey_plc, addresses))) as source:
        await source.poll()
        readings = by_point(await source.poll())
    assert {name: (r.q, r.v) for name, r in readings.items()} == {
        f"r{a}": (Quality.GOOD, a * 10) for a in addresses}
    assert all(not (r.address <= 10 < r.end or r.address <= 11 < r.end) for r in source.plan.requests)


async def test_the_simulated_pump_station_loses_one_point_to_a_hole_not_its_request() -> None:
    async with (ModbusSimulator("pump-station", points=300, faults=parse_faults(["exception:105:2"])) as sim,
                ModbusSource(tcp_device(sim.device_config(), **FAST)) as source):
        (request,) = [r for r in source.plan.requests if r.table == "input_register" and r.address <= 105 < r.end]
        scans = [await source.poll() for _ in range(3)]
    on_hole = {p.name for p in request.points if p.address <= 105 < p.end}
    assert len(on_hole) == 1
    assert len(request.points) > 10
    for scan in scans:
        bad = {r.point for r in scan if r.q is Quality.BAD}
        assert bad == on_hole
        assert len(scan) == len(sim.entries)
