"""ModbusSource against the Modbus simulator over real sockets and a pseudo-terminal pair."""

from __future__ import annotations

import asyncio
import time

import pytest
from pymodbus.client import AsyncModbusTcpClient

from edge_agent.codec import encode_registers
from edge_agent.envelope import Quality
from edge_agent.interfaces import Source
from edge_agent.sources.modbus.source import ModbusSource
from edge_agent.sources.status import DISCONNECTED, TIMEOUT
from simulators.modbus.faults import parse_faults
from simulators.modbus.server import ModbusSimulator
from tests.integration.sources.modbus.conftest import NullModem
from tests.integration.sources.modbus.helpers import (
    by_point,
    collect_scans,
    rtu_device,
    tcp_device,
    wait_until,
)

FAST = {"poll_interval": 0.1, "timeout": 2.0, "retries": 0, "reconnect_min": 0.05, "reconnect_max": 0.3}
"""Generous timeouts: a loaded CI box must not turn slow answers into failures."""
IMPATIENT = {**FAST, "timeout": 0.3}
"""For tests that expect timeouts."""


async def test_polls_every_point_of_a_pump_station_over_tcp() -> None:
    async with ModbusSimulator("pump-station", points=300) as sim:
        source = ModbusSource(tcp_device(sim.device_config(), **FAST))
        assert isinstance(source, Source)
        async with source:
            readings = await source.poll()
    values = by_point(readings)
    assert len(readings) == source.plan.point_count == len(sim.entries)
    assert all(r.q is Quality.GOOD and r.code is None for r in readings)
    assert values["station_name"].v == "Riverside PS"
    assert values["station_level_setpoint"].v == pytest.approx(3.5)
    assert 0.2 <= float(values["station_tank_level"].v or 0) <= 6.0  # type: ignore[arg-type]
    assert isinstance(values["pump1_running"].v, bool)
    assert isinstance(values["pump1_run_hours"].v, int)
    assert abs(values["pump1_flow"].t - time.time() * 1000) < 10_000
    snapshot = source.counters.snapshot()
    assert snapshot["requests"] == snapshot["responses"] == len(source.plan.requests)
    assert snapshot["points_read"] == len(readings)
    assert len(source.plan.requests) < len(readings) / 10


async def test_rtu_framing_over_tcp_and_cdab_floats() -> None:
    async with ModbusSimulator("reefer", framer="rtu") as sim:
        config = tcp_device(sim.device_config(), **FAST)
        assert config.framer == "rtu"
        async with ModbusSource(config) as source:
            values = by_point(await source.poll())
    assert all(r.q is Quality.GOOD for r in values.values())
    assert values["reefer_setpoint"].v == -18.0
    assert values["reefer_container_id"].v == "EFRU1234567"
    assert -30.0 < float(values["reefer_return_air"].v or 0) < 0.0  # type: ignore[arg-type]
    assert values["reefer_latitude"].v == pytest.approx(51.95)


async def test_serial_rtu_over_a_pseudo_terminal_pair(null_modem: NullModem) -> None:
    server_tty, client_tty = null_modem.paths
    # Pseudo-terminals refuse parity settings: 8N1 on both ends.
    async with ModbusSimulator("reefer", serial_port=server_tty, baudrate=115200, unit=7, parity="N") as sim:
        config = rtu_device(client_tty, sim.point_configs(), unit=7, baudrate=115200, parity="N", timeout=1.0)
        async with ModbusSource(config) as source:
            scans = await collect_scans(source, 2)
    for scan in scans:
        assert len(scan) == len(sim.entries)
        assert all(r.q is Quality.GOOD for r in scan), [r for r in scan if r.q]
        assert by_point(scan)["reefer_container_id"].v == "EFRU1234567"
    assert source.counters.get("responses") == 2 * len(source.plan.requests)


async def test_exception_fault_marks_only_the_affected_request_bad() -> None:
    faults = parse_faults(["exception:105:4"])  # server device failure: the request as a whole
    async with (ModbusSimulator("pump-station", points=300, faults=faults) as sim,
                ModbusSource(tcp_device(sim.device_config(), **FAST)) as source):
        readings = await source.poll()
        (request,) = [r for r in source.plan.requests
                      if r.table == "input_register" and r.address <= 105 < r.end]
    affected = {p.name for p in request.points}
    for r in readings:
        if r.point in affected:
            assert (r.q, r.code, r.v) == (Quality.BAD, 4, None)
        else:
            assert r.q is Quality.GOOD
    assert source.counters.get("exceptions") == 1
    assert source.counters.get("responses") == len(source.plan.requests) - 1
    assert sim.stats.get("exceptions") == 1


async def test_timeout_fault_marks_readings_bad_with_the_timeout_code() -> None:
    async with (ModbusSimulator("reefer", faults=parse_faults(["timeout:1"])) as sim,
                ModbusSource(tcp_device(sim.device_config(), **IMPATIENT)) as source):
        readings = await source.poll()
    codes = {r.code for r in readings}
    assert all(r.q is Quality.BAD and r.v is None for r in readings)
    assert TIMEOUT in codes
    assert codes <= {TIMEOUT, DISCONNECTED}
    assert source.counters.get("timeouts") >= 1
    assert source.counters.get("responses") == 0
    assert sim.stats.get("unanswered") >= 1


async def test_partial_timeouts_leave_other_requests_good() -> None:
    faults = parse_faults(["timeout:0.3"])
    async with ModbusSimulator("pump-station", points=300, faults=faults, seed=3) as sim:
        config = tcp_device(sim.device_config(), **{**IMPATIENT, "retries": 1})
        async with ModbusSource(config) as source:
            scans = await collect_scans(source, 6)
    readings = [r for scan in scans for r in scan]
    assert any(r.q is Quality.GOOD for r in readings)
    assert sim.stats.get("unanswered") >= 1
    c = source.counters
    assert c.get("requests") == c.get("responses") + c.get("timeouts") + c.get("disconnected") > 0
    assert all(r.code in (TIMEOUT, DISCONNECTED) for r in readings if r.q is Quality.BAD)


async def test_dropped_connections_are_reconnected_and_readings_resume() -> None:
    async with (ModbusSimulator("reefer", faults=parse_faults(["drop:0.5"])) as sim,
                ModbusSource(tcp_device(sim.device_config(), **FAST)) as source):
        scans = []

        async def run() -> None:
            async for scan in source.scans():
                scans.append(scan)
                if source.counters.get("reconnects") >= 2 and all(r.q is Quality.GOOD for r in scan):
                    return

        await asyncio.wait_for(run(), 30)
    assert sim.stats.get("drops") >= 2
    assert source.counters.get("reconnects") >= 2
    assert all(r.q is Quality.GOOD for r in scans[-1])
    bad = [r for scan in scans for r in scan if r.q is Quality.BAD]
    assert all(r.code in (DISCONNECTED, TIMEOUT) for r in bad)


async def test_stuck_value_stays_frozen_while_others_move() -> None:
    faults = parse_faults(["stuck:0"])  # input register 0: the tank level
    async with (ModbusSimulator("pump-station", points=40, faults=faults, update_interval=0.02) as sim,
                ModbusSource(tcp_device(sim.device_config(), **FAST)) as source):
        scans = await collect_scans(source, 4)
    levels = {by_point(s)["station_tank_level"].v for s in scans}
    pressures = {by_point(s)["station_inlet_pressure"].v for s in scans}
    assert len(levels) == 1
    assert len(pressures) > 1


@pytest.mark.parametrize("dead_kind", ["refused", "silent"])
async def test_a_dead_device_does_not_stall_a_healthy_one(dead_kind: str, closed_port: int,
                                                          silent_port: int) -> None:
    port = closed_port if dead_kind == "refused" else silent_port
    async with ModbusSimulator("reefer") as sim:
        healthy = ModbusSource(tcp_device(sim.device_config(name="healthy"), **FAST))
        dead = ModbusSource(tcp_device(sim.device_config(name="dead", port=port), **IMPATIENT))
        lags: list[float] = []

        async def ticker() -> None:
            while True:
                start = time.monotonic()
                await asyncio.sleep(0.01)
                lags.append(time.monotonic() - start - 0.01)

        async with healthy, dead:
            tick = asyncio.create_task(ticker())
            healthy_scans, dead_scans = await asyncio.gather(collect_scans(healthy, 10),
                                                             collect_scans(dead, 3))
            tick.cancel()
    assert all(r.q is Quality.GOOD for s in healthy_scans for r in s)
    dead_codes = {r.code for s in dead_scans for r in s}
    assert all(r.q is Quality.BAD for s in dead_scans for r in s)
    if dead_kind == "refused":
        assert dead_codes == {DISCONNECTED}
        assert dead.counters.get("connect_failures") >= 1
    else:
        assert TIMEOUT in dead_codes
        assert dead_codes <= {TIMEOUT, DISCONNECTED}
    span = (healthy_scans[-1][0].t - healthy_scans[0][0].t) / 1000
    assert span < 9 * 0.1 + 1.5, "the healthy device kept its rate"
    assert max(lags) < 1.0, "the event loop never blocked"


async def test_a_stalled_consumer_skips_cycles_and_counts_overruns() -> None:
    async with ModbusSimulator("reefer") as sim:
        config = tcp_device(sim.device_config(), **{**FAST, "poll_interval": 0.05})
        async with ModbusSource(config) as source:
            starts = []
            async for _scan in source.scans():
                starts.append(time.monotonic())
                if len(starts) == 4:
                    await asyncio.sleep(0.23)  # a slow consumer: about four cycles missed
                if len(starts) == 8:
                    break
    # The stall spans about four cycles: they are skipped and counted, not run late in a burst
    # (PollSchedule's unit tests pin the arithmetic; wall-clock gaps are too noisy on a loaded box).
    assert source.counters.get("overruns") >= 3
    assert len(starts) == 8


async def test_writes_reach_the_model_and_read_back() -> None:
    async with ModbusSimulator("reefer") as sim:
        client = AsyncModbusTcpClient("127.0.0.1", port=sim.port)
        await client.connect()
        response = await client.write_registers(0, encode_registers(-250, "int16"), device_id=1)
        client.close()
        assert not response.isError()
        async with ModbusSource(tcp_device(sim.device_config(), **FAST)) as source:
            await wait_until(lambda: sim.model.sample(time.time())["Reefer.Setpoint"] == -25.0)
            values = by_point(await source.poll())
    assert values["reefer_setpoint"].v == -25.0


async def test_concurrent_requests_on_one_connection_give_the_same_readings() -> None:
    async with ModbusSimulator("pump-station", points=400, update_interval=3600) as sim:
        serial_config = tcp_device(sim.device_config(), **FAST)
        concurrent_config = tcp_device(sim.device_config(), **{**FAST, "max_in_flight": 4})
        async with ModbusSource(serial_config) as one, ModbusSource(concurrent_config) as four:
            expected = {r.point: r.v for r in await one.poll()}
            got = {r.point: r.v for r in await four.poll()}
    assert got == expected
    assert four.counters.get("responses") == len(four.plan.requests) > 4


async def test_a_device_that_comes_up_later_is_connected_with_backoff(closed_port: int) -> None:
    async with ModbusSimulator("reefer", port=closed_port, update_interval=3600) as template:
        config = tcp_device(template.device_config(), **FAST)
    async with ModbusSource(config) as source:
        assert {r.code for r in await source.poll()} == {DISCONNECTED}
        await wait_until(lambda: source.counters.get("connect_failures") >= 3)
        async with ModbusSimulator("reefer", port=closed_port):
            await wait_until(lambda: source.connected)
            readings = await source.poll()
    assert all(r.q is Quality.GOOD for r in readings)
    assert source.counters.get("reconnects") == 1


async def test_devices_on_one_serial_line_share_the_port(null_modem: NullModem) -> None:
    """Two clients reading one port would steal each other's answers; one shared client does not."""
    server_tty, client_tty = null_modem.paths
    async with ModbusSimulator("reefer", serial_port=server_tty, baudrate=115200, parity="N", unit=1,
                               more_units=[2]) as sim:
        configs = [rtu_device(client_tty, sim.point_configs(), name=f"reefer{u}", unit=u, baudrate=115200,
                              parity="N", timeout=1.0) for u in (1, 2)]
        async with ModbusSource(configs[0]) as first, ModbusSource(configs[1]) as second:
            scans = await asyncio.gather(collect_scans(first, 3), collect_scans(second, 3))
        assert not first.connected
    for device_scans in scans:
        assert all(r.q is Quality.GOOD for scan in device_scans for r in scan)
    assert {r.device for r in scans[1][0]} == {"reefer2"}
    assert sim.stats.get("requests") == 2 * 3 * len(first.plan.requests)
