"""Server restarts and frozen servers: reconnect, re-subscribe, re-read, count the gap, no repeats."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge_agent.envelope import Quality, Reading
from edge_agent.sources.opcua.source import OpcUaSource
from edge_agent.sources.opcua.status import NO_COMMUNICATION
from simulators.opcua.faults import Restart
from simulators.opcua.server import OpcUaSimulator
from tests.integration.sources.opcua.conftest import Collector, device, free_port

SUBSCRIBED = [{"name": "level", "node": "ns=2;s=Station.TankLevel"},
              {"name": "flow", "node": "ns=2;s=Station.StationFlow"},
              {"name": "pressure", "browse_path": "2:Station/2:InletPressure"}]
POLLED = [{"name": "station_name", "node": "ns=2;s=Station.Name", "sampling": "poll"}]


def assert_no_repeats(readings: list[Reading]) -> None:
    """Per point, good samples have strictly increasing times: nothing delivered twice."""
    for point in {r.point for r in readings}:
        times = [r.t for r in readings if r.point == point and r.q is not Quality.BAD]
        assert times == sorted(set(times)), f"{point} has repeated or out-of-order samples"


async def test_server_restart_reconnects_resubscribes_and_counts_the_gap(
        collect: Callable[[OpcUaSource], Collector]) -> None:
    async with OpcUaSimulator(port=0, points=10, update_interval=0.2, seed=5) as sim:
        async with OpcUaSource(device(sim.endpoint, SUBSCRIBED + POLLED)) as source:
            c = collect(source)
            await c.wait_for(lambda: len(c.of("level")) >= 3 and len(c.of("station_name")) >= 2)
            before = len(c.readings)
            down_at = time.monotonic()
            await sim.restart(down=2.0)
            await c.wait_for(lambda: source.counters.get("reconnects") == 1)
            resumed = len(c.readings)
            await c.wait_for(lambda: len([r for r in c.readings[resumed:] if r.point == "level"]) >= 3
                             and len([r for r in c.readings[resumed:] if r.point == "station_name"]) >= 2)
        await c.stop()

    marks = [r for r in c.readings[before:resumed] if r.q is Quality.BAD]
    assert sorted(r.point for r in marks) == ["flow", "level", "pressure", "station_name"], \
        "every point is marked bad once when the server goes away"
    assert all(r.code == NO_COMMUNICATION and r.v is None for r in marks)
    lost_at = next(t for t, scan in zip(c.arrivals, c.scans, strict=True)
                   if any(r.code == NO_COMMUNICATION for r in scan))
    assert lost_at - down_at < 3.0, "a closed server is noticed at once"

    after = c.readings[resumed:]
    assert {"level", "flow", "pressure", "station_name"} <= {r.point for r in after}
    assert all(r.q is Quality.GOOD for r in after)
    assert source.counters.get("notifications") > 0
    assert_no_repeats(c.readings)

    # Outage >= 2 s; three subscribed points sampled every 200 ms, one polled every 300 ms.
    outage = float(source.counters.snapshot()["last_outage_s"])
    assert outage >= 2.0
    expected = 3 * int(outage / 0.2) + int(outage / 0.3)
    assert abs(source.counters.get("gaps") - expected) <= 4
    assert source.counters.get("connect_errors") >= 1


async def test_periodic_restart_fault(collect: Callable[[OpcUaSource], Collector]) -> None:
    async with OpcUaSimulator(port=0, points=10, update_interval=0.2,
                              faults=[Restart(every=2.0, down=0.5)]) as sim:
        async with OpcUaSource(device(sim.endpoint, SUBSCRIBED)) as source:
            c = collect(source)
            await c.wait_for(lambda: source.counters.get("reconnects") >= 2, within=40)
            seen = len(c.readings)
            await c.wait_for(lambda: any(r.q is Quality.GOOD for r in c.readings[seen:]))
        await c.stop()
    assert sim.restarts >= 2
    assert source.counters.get("gaps") > 0
    assert_no_repeats(c.readings)


@pytest.fixture
def frozen_simulator(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The simulator in its own process (``edgeferry sim opcua``), so the test can SIGSTOP it."""
    port = free_port()
    log = (tmp_path / "sim.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "edgeferry", "sim", "opcua", "--port", str(port),
                             "--points", "10", "--update-interval", "200ms"], stdout=log, stderr=log)
    try:
        yield proc, f"opc.tcp://127.0.0.1:{port}/edgeferry/"
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


@pytest.mark.slow
async def test_watchdog_detects_a_frozen_server_within_seconds(
        frozen_simulator: tuple[subprocess.Popen[bytes], str],
        collect: Callable[[OpcUaSource], Collector]) -> None:
    proc, endpoint = frozen_simulator
    async with OpcUaSource(device(endpoint, SUBSCRIBED, reconnect_min="1s", reconnect_max="2s")) as source:
        c = collect(source)
        await c.wait_for(lambda: len(c.of("level")) >= 3, within=60)
        os.kill(proc.pid, signal.SIGSTOP)  # the socket stays open; only the watchdog can tell
        frozen_at = time.monotonic()
        before = len(c.readings)
        await c.wait_for(lambda: any(r.code == NO_COMMUNICATION for r in c.readings[before:]), within=20)
        detected = time.monotonic() - frozen_at
        os.kill(proc.pid, signal.SIGCONT)
        await c.wait_for(lambda: source.counters.get("reconnects") >= 1, within=60)
        seen = len(c.readings)
        await c.wait_for(lambda: any(r.q is Quality.GOOD for r in c.readings[seen:]), within=30)
    await c.stop()
    # watchdog_interval 500 ms: a probe every 0.5 s that must answer within 0.5 s.
    assert detected < 5.0
    assert_no_repeats(c.readings)
