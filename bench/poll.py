"""Polling cost: points/s and CPU per point of each fieldbus source against its simulator.

The simulator runs in its own process (its CPU is reported apart); the agent side is this process,
measured with ``getrusage``. Each protocol contributes rows through one function in ``PROTOCOLS``.

Modbus/TCP, pump-station profile:
- ``max rate``: back-to-back polls of a large station with coalesced reads, then with one request
  per point (the naive way): points/s, requests/s, agent CPU-s per 1,000 points, and the ratio;
- ``1 s poll``: a 1,000-point station polled every second on the schedule: agent % of one core;
- ThingsBoard IoT Gateway's Modbus connector on the same 1 s-poll station, where installed
  (``--thingsboard-python``; else the reason is printed), with its CPU per point and the ratio.

OPC-UA, pump-station profile (``edgeferry sim opcua``):
- ``max rate``: back-to-back polled reads of every node of a large station in one Read request,
  then with one Read request per node (the naive way), and the ratio;
- ``subscription``: every node subscribed, values changing every 500 ms: readings/s delivered;
- ``1 s poll`` / ``1 s subscribe``: a 1,000-point station on the source's own schedule.
Peak RSS covers the whole process: run ``--protocol opcua`` for OPC-UA alone.

    .venv/bin/python bench/poll.py [--quick] [--protocol modbus] [--points N] [--seconds S]
                                   [--thingsboard-python /tmp/tbvenv/bin/python]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import tb_modbus
from rich.console import Console
from rich.table import Table

from edge_agent.aggregate import Aggregator, resolve_point_modes
from edge_agent.aggregate.config import AggregationConfig, BatchingConfig
from edge_agent.envelope import Quality, Reading
from edge_agent.metrics import Counters
from edge_agent.sources.modbus.config import ModbusTcpDevice
from edge_agent.sources.modbus.plan import plan_reads
from edge_agent.sources.modbus.source import ModbusSource
from edge_agent.sources.opcua.config import OpcUaDevice
from edge_agent.sources.opcua.poll import read_bindings
from edge_agent.sources.opcua.session import OpcUaSession
from edge_agent.sources.opcua.source import OpcUaSource
from edge_agent.sources.opcua.targets import expand_points
from simulators.modbus.process import SimulatorProcess
from simulators.profiles import build_model, modbus_map


@dataclass
class Row:
    """One measured configuration."""

    case: str
    points: int
    seconds: float
    agent_cpu: float
    requests: int = 0
    sim_cpu: float | None = None
    bad: int = 0
    note: str = ""

    @property
    def points_per_s(self) -> float:
        return self.points / self.seconds

    @property
    def cpu_per_1000(self) -> float:
        return 1000 * self.agent_cpu / self.points if self.points else float("nan")

    @property
    def core_percent(self) -> float:
        return 100 * self.agent_cpu / self.seconds


async def count_scans(scans: AsyncIterator[Sequence[Reading]], deadline: float) -> tuple[int, int]:
    """Readings and bad readings of the scans that arrive until ``deadline`` (``perf_counter``)."""
    points = bad = 0
    async for scan in scans:
        points += len(scan)
        bad += sum(1 for r in scan if r.q is not Quality.GOOD)
        if time.perf_counter() >= deadline:
            break
    return points, bad


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def station_device(port: int, points: int, **settings: object) -> ModbusTcpDevice:
    entries = modbus_map("pump-station", build_model("pump-station", points=points))
    return ModbusTcpDevice.model_validate({
        "type": "modbus_tcp", "name": "station", "host": "127.0.0.1", "port": port, "timeout": 5.0,
        "points": [e.point_config() for e in entries], **settings})


def window_aggregator(device: ModbusTcpDevice) -> Aggregator:
    """The agent's aggregator with every point in one-minute windows, as a plant gateway runs."""
    aggregation = AggregationConfig(mode="window", window=60.0)
    return Aggregator("bench", "site", "station", resolve_point_modes([device], aggregation), aggregation,
                      BatchingConfig(), (), epoch="bench", next_seq=1)


async def max_rate(sim: SimulatorProcess, device: ModbusTcpDevice, coalesce: bool, seconds: float,
                   case: str, connections: int = 1, aggregate: bool = False) -> Row:
    """Back-to-back polls for ``seconds`` on ``connections`` devices (one connection each) at once;
    with ``aggregate``, every scan also goes through the agent's window aggregation."""
    sources = [ModbusSource(device, plan_reads(device, coalesce_reads=coalesce)) for _ in range(connections)]
    aggregators = [window_aggregator(device) if aggregate else None for _ in sources]
    points = bad = 0

    async def poll_until(source: ModbusSource, aggregator: Aggregator | None, deadline: float) -> None:
        nonlocal points, bad
        while time.perf_counter() < deadline:
            readings = await source.poll()
            if aggregator is not None:
                aggregator.add(readings, time.monotonic())
            points += len(readings)
            bad += sum(1 for r in readings if r.q is not Quality.GOOD)

    async with contextlib.AsyncExitStack() as stack:
        for source in sources:
            await stack.enter_async_context(source)
            await source.poll()  # warm up: connection, first allocations
        requests0 = sum(s.counters.get("requests") for s in sources)
        sim_cpu0, cpu0, start = sim.cpu_seconds(), cpu_seconds(), time.perf_counter()
        await asyncio.gather(*(poll_until(s, a, start + seconds) for s, a in zip(sources, aggregators, strict=True)))
        wall = time.perf_counter() - start
        agent, sim_cpu = cpu_seconds() - cpu0, sim.cpu_seconds() - sim_cpu0
        requests = sum(s.counters.get("requests") for s in sources) - requests0
    return Row(case, points, wall, agent, requests, sim_cpu, bad)


async def steady_poll(sim: SimulatorProcess, device: ModbusTcpDevice, seconds: float) -> Row:
    """The source's own schedule at ``device.poll_interval`` for ``seconds``."""
    async with ModbusSource(device) as source:
        await source.poll()
        sim_cpu0, cpu0, start = sim.cpu_seconds(), cpu_seconds(), time.perf_counter()
        points, bad = await count_scans(source.scans(), start + seconds)
        wall = time.perf_counter() - start
        agent, sim_cpu = cpu_seconds() - cpu0, sim.cpu_seconds() - sim_cpu0
    return Row(f"{device.poll_interval:g} s poll, scheduled", points, wall, agent,
               source.counters.get("requests"), sim_cpu, bad)


async def thingsboard_row(args: argparse.Namespace, reference: Row) -> Row:
    """The same 1 s-poll station through ThingsBoard IoT Gateway's Modbus connector, where installed."""
    case = "ThingsBoard IoT Gateway 1 s poll"
    reason = tb_modbus.unavailable(args.thingsboard_python)
    if reason is not None:
        return Row(case, 0, 1.0, 0.0, note=f"not run: {reason}")
    run = await tb_modbus.measure(args.thingsboard_python, 1000, warmup=10.0 if args.quick else 20.0,
                                  seconds=reference.seconds)
    return Row(case, run.requests, run.seconds, run.cpu, run.requests, note=(
        f"its own process, one request per point: {run.cpu_per_1000:.3f} CPU-s per 1,000 points, "
        f"{run.cpu_per_1000 / reference.cpu_per_1000:.0f}x edgeferry's; RSS {run.rss_mib:.0f} MiB"))


async def modbus_rows(args: argparse.Namespace) -> list[Row]:
    seconds = 2.0 if args.quick else args.seconds
    steady_seconds = 5.0 if args.quick else 30.0
    rows = []
    with SimulatorProcess(["--profile", "pump-station", "--points", str(args.points)]) as sim:
        device = station_device(sim.port, args.points)
        coalesced = await max_rate(sim, device, True, seconds, "max rate, coalesced reads")
        aggregated = await max_rate(sim, device, True, seconds, "max rate, coalesced + 1 min windows",
                                    aggregate=True)
        parallel = await max_rate(sim, device, True, seconds,
                                  f"max rate, coalesced, {args.connections} connections", args.connections)
        naive = await max_rate(sim, device, False, seconds, "max rate, one request per point")
        naive.note = f"coalesced is {naive.cpu_per_1000 / coalesced.cpu_per_1000:.0f}x cheaper per point"
        rows += [coalesced, aggregated, parallel, naive]
    with SimulatorProcess(["--profile", "pump-station", "--points", "1000"]) as sim:
        steady = await steady_poll(sim, station_device(sim.port, 1000, poll_interval=1.0), steady_seconds)
    rows += [steady, await thingsboard_row(args, steady)]
    return rows


def opcua_station(port: int, points: int, sampling: str, **settings: object) -> OpcUaDevice:
    """Every signal of a ``points``-point pump station, by string node id."""
    signals = build_model("pump-station", points=points).signals
    return OpcUaDevice.model_validate({
        "type": "opcua", "name": "booster", "endpoint": f"opc.tcp://127.0.0.1:{port}/edgeferry/",
        "timeout": 30.0, **settings,
        "points": [{"name": s.point_name, "node": f"ns=2;s={s.key}", "sampling": sampling} for s in signals]})


async def opcua_read_rate(sim: SimulatorProcess, device: OpcUaDevice, seconds: float, case: str,
                          per_node: bool) -> Row:
    """Back-to-back polled reads for ``seconds``: all nodes in one Read request per cycle, or one
    Read request per node (the naive way; then 100 nodes a cycle, so the run stops on time)."""
    counters = Counters()

    async def discard(scan: list[Reading]) -> None:
        del scan

    async with OpcUaSession(device, expand_points(device.points), counters, offer=lambda scan: None,
                            put_sampled=discard, put_polled=discard) as session:
        bindings = session.bindings[:100] if per_node else session.bindings
        max_nodes = 1 if per_node else 0
        await read_bindings(session.client, device.name, bindings, counters, max_nodes=max_nodes)
        points = bad = 0
        reads0 = counters.get("reads")
        sim_cpu0, cpu0, start = sim.cpu_seconds(), cpu_seconds(), time.perf_counter()
        while time.perf_counter() - start < seconds:
            scan = await read_bindings(session.client, device.name, bindings, counters, max_nodes=max_nodes)
            points += len(scan)
            bad += sum(1 for r in scan if r.q is not Quality.GOOD)
        wall = time.perf_counter() - start
        agent, sim_cpu = cpu_seconds() - cpu0, sim.cpu_seconds() - sim_cpu0
    return Row(case, points, wall, agent, counters.get("reads") - reads0, sim_cpu, bad)


async def opcua_source_run(sim: SimulatorProcess, device: OpcUaDevice, seconds: float, case: str) -> Row:
    """The whole source on its own schedule (subscription or polls) for ``seconds``, counted from
    the moment every point has had a value."""
    async with OpcUaSource(device) as source:
        scans = source.scans()
        unseen = {p.name for p in device.points}
        while unseen:
            unseen -= {r.point for r in await anext(scans)}
        notifications0, reads0 = source.counters.get("notifications"), source.counters.get("reads")
        sim_cpu0, cpu0, start = sim.cpu_seconds(), cpu_seconds(), time.perf_counter()
        points, bad = await count_scans(scans, start + seconds)
        wall = time.perf_counter() - start
        agent, sim_cpu = cpu_seconds() - cpu0, sim.cpu_seconds() - sim_cpu0
        requests = source.counters.get("reads") - reads0
        notifications = source.counters.get("notifications") - notifications0
    return Row(case, points, wall, agent, requests, sim_cpu, bad,
               note=f"{notifications:,} data-change notifications" if notifications else "")


async def opcua_rows(args: argparse.Namespace) -> list[Row]:
    seconds = 2.0 if args.quick else args.seconds
    steady_seconds = 5.0 if args.quick else 30.0
    rows = []
    sim_args = ["--profile", "pump-station", "--points", str(args.points), "--update-interval", "500ms"]
    async with SimulatorProcess(sim_args, simulator="opcua", startup_timeout=120) as sim:
        polled = opcua_station(sim.port, args.points, "poll")
        batched = await opcua_read_rate(sim, polled, seconds, "max rate, one Read for all nodes", False)
        naive = await opcua_read_rate(sim, polled, seconds, "max rate, one Read per node", True)
        naive.note = f"one Read for all is {naive.cpu_per_1000 / batched.cpu_per_1000:.0f}x cheaper per point"
        subscribed = opcua_station(sim.port, args.points, "subscribe", sampling_interval=0.5,
                                   publishing_interval=0.5, buffer=10_000)
        rows += [batched, naive, await opcua_source_run(
            sim, subscribed, max(seconds, 5.0), "subscription, 500 ms sampling and changes")]
    async with SimulatorProcess(["--profile", "pump-station", "--points", "1000"], simulator="opcua",
                                startup_timeout=120) as sim:
        for sampling in ("poll", "subscribe"):
            device = opcua_station(sim.port, 1000, sampling)
            rows.append(await opcua_source_run(sim, device, steady_seconds, f"1 s {sampling}, 1,000 points"))
    return rows


PROTOCOLS: dict[str, Callable[[argparse.Namespace], Coroutine[Any, Any, list[Row]]]] = {
    "modbus": modbus_rows, "opcua": opcua_rows}
"""Each protocol's benchmark: an async function of the arguments returning its rows."""


def render(protocol: str, rows: list[Row], console: Console) -> None:
    table = Table(title=f"{protocol}: polling cost (agent = this process; simulator CPU apart)")
    for column in ("case", "points", "points/s", "requests/s", "agent CPU-s /1000 pts",
                   "points per agent CPU-s", "agent % core", "sim CPU-s", "bad"):
        table.add_column(column, justify="left" if column == "case" else "right")
    for r in rows:
        if r.points:
            table.add_row(r.case, f"{r.points:,}", f"{r.points_per_s:,.0f}", f"{r.requests / r.seconds:,.0f}",
                          f"{r.cpu_per_1000:.4f}", f"{r.points / r.agent_cpu:,.0f}", f"{r.core_percent:.1f}",
                          "-" if r.sim_cpu is None else f"{r.sim_cpu:.2f}", str(r.bad))
    console.print(table)
    for r in rows:
        if r.note:
            console.print(f"{r.case}: {r.note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short run")
    parser.add_argument("--protocol", choices=[*PROTOCOLS, "all"], default="all")
    parser.add_argument("--points", type=int, default=5000, help="station size for the max-rate runs")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each max-rate run")
    parser.add_argument("--thingsboard-python", default=sys.executable, metavar="PYTHON",
                        help="an interpreter with thingsboard-gateway installed (default: this one)")
    parser.add_argument("--connections", type=int, default=4,
                        help="devices polled at once in the parallel max-rate run")
    args = parser.parse_args()
    console = Console(width=160)
    for name, run in PROTOCOLS.items():
        if args.protocol in (name, "all"):
            render(name, asyncio.run(run(args)), console)
    console.print(f"peak RSS of the agent process: {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
