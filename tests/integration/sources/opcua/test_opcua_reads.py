"""Subscriptions and polled reads against the simulator over real sockets: values, quality, codes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest
from asyncua.ua.status_codes import StatusCodes

from edge_agent.envelope import Quality
from edge_agent.sources.opcua.source import OpcUaSource
from simulators.opcua.faults import parse_fault
from simulators.opcua.server import OpcUaSimulator
from tests.integration.sources.opcua.conftest import Collector, device


async def test_subscribed_and_polled_points_by_node_id_and_browse_path(
        simulator: OpcUaSimulator, collect: Callable[[OpcUaSource], Collector]) -> None:
    config = device(simulator.endpoint, [
        {"name": "level", "node": "ns=2;s=Station.TankLevel"},
        {"name": "dose", "browse_path": "2:Station/2:ChlorineDose"},
        {"name": "pump{i}_pressure", "browse_path": "2:Station/2:Pump{i}/2:Pressure", "count": 2, "start": 1},
        {"name": "station_name", "node": "ns=2;s=Station.Name", "sampling": "poll"},
        {"name": "setpoint", "browse_path": "/2:Station/2:LevelSetpoint", "sampling": "poll"},
        {"name": "running", "node": "ns=2;s=Pump1.Running", "sampling": "poll"},
    ])
    async with OpcUaSource(config) as source:
        c = collect(source)
        await c.wait_for(lambda: all(len([r for r in c.of(p) if r.q is Quality.GOOD]) >= 3
                                     for p in ("level", "dose", "station_name", "setpoint")))
    await c.stop()

    level = c.of("level")
    assert all(isinstance(r.v, float) and r.code is None for r in level)
    assert len({r.v for r in level}) > 1, "a changing signal gives new notifications"
    assert [r.t for r in level] == sorted({r.t for r in level}), "source times strictly increase"
    assert c.of("pump1_pressure")
    assert c.of("pump2_pressure")
    assert {r.v for r in c.of("station_name")} == {"Riverside PS"}
    assert all(isinstance(r.v, bool) for r in c.of("running"))

    polls = [scan for scan in c.scans if {r.point for r in scan} == {"station_name", "setpoint", "running"}]
    assert len(polls) >= 3, "one scan per poll cycle holds every polled point"
    assert all(len({r.t for r in scan}) == 1 for scan in polls), "a poll cycle has one time"
    counters = source.counters
    assert counters.get("notifications") >= len(level)
    # One Read per poll cycle for three nodes (plus the re-read of the subscribed nodes at connect).
    assert counters.get("reads") <= len(polls) + 2
    assert counters.get("bad_status") == 0
    assert counters.get("queue_drops") == 0


async def test_bad_status_codes_become_quality_bad_with_the_code(
        collect: Callable[[OpcUaSource], Collector]) -> None:
    faults = [parse_fault("badstatus:Pump1.Flow"), parse_fault("badstatus:Pump2.Flow:UncertainLastUsableValue"),
              parse_fault("badstatus:ns=2;s=Pump1.Speed:BadOutOfService")]
    async with OpcUaSimulator(port=0, points=30, update_interval=0.2, faults=faults) as sim:
        config = device(sim.endpoint, [
            {"name": "pump1_flow", "node": "ns=2;s=Pump1.Flow"},
            {"name": "pump2_flow", "node": "ns=2;s=Pump2.Flow"},
            {"name": "pump1_speed", "node": "ns=2;s=Pump1.Speed", "sampling": "poll"},
            {"name": "level", "node": "ns=2;s=Station.TankLevel"},
        ])
        async with OpcUaSource(config) as source:
            c = collect(source)
            await c.wait_for(lambda: all(c.of(p) for p in ("pump1_flow", "pump2_flow", "pump1_speed", "level")))
        await c.stop()

    flow = c.of("pump1_flow")[-1]
    assert (flow.q, flow.code, flow.v) == (Quality.BAD, StatusCodes.BadSensorFailure, None)
    uncertain = c.of("pump2_flow")[-1]
    assert (uncertain.q, uncertain.code) == (Quality.UNCERTAIN, StatusCodes.UncertainLastUsableValue)
    assert isinstance(uncertain.v, float)
    speed = c.of("pump1_speed")[-1]
    assert (speed.q, speed.code) == (Quality.BAD, StatusCodes.BadOutOfService)
    assert c.of("level")[-1].q is Quality.GOOD
    assert source.counters.get("bad_status") >= 2


async def test_unresolved_browse_path_and_unknown_node_are_bad_readings_not_a_crash(
        simulator: OpcUaSimulator, collect: Callable[[OpcUaSource], Collector],
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="edge_agent.sources.opcua")
    config = device(simulator.endpoint, [
        {"name": "missing_path", "browse_path": "2:Station/2:Pump99/2:Flow"},
        {"name": "missing_node", "node": "ns=2;s=Pump99.Flow"},
        {"name": "missing_polled", "browse_path": "2:Station/2:Nothing", "sampling": "poll"},
        {"name": "level", "node": "ns=2;s=Station.TankLevel"},
    ])
    async with OpcUaSource(config) as source:
        c = collect(source)
        await c.wait_for(lambda: len(c.of("missing_polled")) >= 2 and len(c.of("level")) >= 2)
    await c.stop()

    path = c.of("missing_path")
    assert len(path) == 1, "reported once per connection"
    assert (path[0].q, path[0].code) == (Quality.BAD, StatusCodes.BadNoMatch)
    node = c.of("missing_node")
    assert (node[0].q, node[0].code) == (Quality.BAD, StatusCodes.BadNodeIdUnknown)
    assert all(r.code == StatusCodes.BadNoMatch for r in c.of("missing_polled"))
    assert c.of("level")[-1].q is Quality.GOOD
    messages = [(r.getMessage(), getattr(r, "point", None), getattr(r, "status", None)) for r in caplog.records]
    assert ("opcua_browse_path_unresolved", "missing_path", "BadNoMatch") in messages
    assert ("opcua_monitor_failed", "missing_node", "BadNodeIdUnknown") in messages
    assert source.counters.get("connect_errors") == 0


async def test_a_consumer_that_falls_behind_costs_counted_drops_not_memory(
        simulator: OpcUaSimulator) -> None:
    config = device(simulator.endpoint, [
        {"name": "pump{i}_pressure", "node": "ns=2;s=Pump{i}.Pressure", "count": 4, "start": 1},
        {"name": "level", "node": "ns=2;s=Station.TankLevel"},
    ], buffer=3)
    async with OpcUaSource(config) as source:
        deadline = asyncio.get_running_loop().time() + 30
        while source.counters.get("queue_drops") == 0:  # nobody reads scans() meanwhile
            assert asyncio.get_running_loop().time() < deadline, source.counters.snapshot()
            await asyncio.sleep(0.1)
        scans = source.scans()
        held = [await anext(scans) for _ in range(3)]
    assert all(held)
    assert source.counters.get("notifications") > 3


async def test_a_poll_split_for_a_small_max_nodes_per_read(
        simulator: OpcUaSimulator, collect: Callable[[OpcUaSource], Collector]) -> None:
    names = ["Flow", "Pressure", "Current", "Speed", "RunHours"]
    config = device(simulator.endpoint, [
        {"name": f"pump1_{n.lower()}", "node": f"ns=2;s=Pump1.{n}", "sampling": "poll"} for n in names
    ], max_nodes_per_read=2)
    async with OpcUaSource(config) as source:
        c = collect(source)
        await c.wait_for(lambda: len(c.scans) >= 3)
    await c.stop()
    cycles = c.scans[:3]
    assert all([r.point for r in scan] == [f"pump1_{n.lower()}" for n in names] for scan in cycles)
    assert all(r.q is Quality.GOOD for scan in cycles for r in scan)
    assert source.counters.get("reads") >= 3 * 3, "five nodes, at most two a Read: three Reads a cycle"
    assert source.counters.get("reads") % 3 == 0
