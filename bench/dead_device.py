"""What a dead PLC costs: IoT messages per hour of a station whose PLC is unplugged, vs healthy.

The station is the Modbus PLC of ``examples/pump-station.yaml`` (710 points polled every second,
its own reporting modes, windows, batching and alarms). Time is compressed honestly: the real
:class:`~edge_agent.sources.modbus.source.ModbusSource` polls a real pymodbus simulator
(``pump-station`` profile) back to back, and each poll's readings are stamped with a manual clock
that advances one poll interval per poll and drives the real :class:`Aggregator`. Phases, each
``--hours`` of station time on one aggregator:

- ``healthy``: the simulator answers every poll;
- ``unplugged``: the simulator is gone (its server shut down), so every poll of the source finds
  no connection, as with a pulled cable or a powered-off PLC (the reconnector keeps failing);
- ``not answering``: a simulator that accepts connections but drops every reply (its
  ``timeout:1`` fault), as a PLC in a fault state or a gateway whose serial line is dead: each
  poll's first request times out, the client drops the connection, the rest of the poll is
  disconnected, the next poll reconnects;
- ``back``: an answering simulator on the same port again.

Printed per phase: batches (one MQTT publish each), payload KB and 5 KB metering units, per hour,
the ratio of batches to the healthy phase, and the device state records sent.

    .venv/bin/python bench/dead_device.py [--quick] [--hours H] [--config examples/pump-station.yaml]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from edge_agent.aggregate import Aggregator
from edge_agent.aggregate.outages import state_point
from edge_agent.clock import ManualClock
from edge_agent.config import AgentConfig, load_config
from edge_agent.envelope import Batch, metering_units
from edge_agent.sources.modbus.config import ModbusTcpDevice
from edge_agent.sources.modbus.source import ModbusSource
from edge_agent.sources.status import NAMES
from simulators.modbus.faults import parse_faults
from simulators.modbus.server import ModbusSimulator

ROOT = Path(__file__).resolve().parent.parent
START_MS = 1_764_806_400_000
"""2025-12-04T00:00:00Z."""


@dataclass
class Phase:
    name: str
    hours: float
    batches: int = 0
    payload: int = 0
    units: int = 0
    readings: int = 0
    states: Counter[str] = field(default_factory=Counter)
    """Device state records sent, by value and cause."""

    def count(self, batches: list[Batch]) -> None:
        for batch in batches:
            size = len(batch.encode())
            self.batches += 1
            self.payload += size
            self.units += metering_units(size)
            self.readings += len(batch.readings) + len(batch.windows)
            self.states.update(f"{r.v} ({NAMES.get(r.code, r.code)})" if r.code else str(r.v)
                               for r in batch.readings if r.point == state_point(r.device))

    def per_hour(self, value: int) -> float:
        return value / self.hours


def station(config: AgentConfig, port: int) -> ModbusTcpDevice:
    """The station's Modbus PLC, pointed at the simulator; quick to give up on a dead link."""
    [plc] = [d for d in config.devices if isinstance(d, ModbusTcpDevice)]
    return plc.model_copy(update={"host": "127.0.0.1", "port": port, "timeout": 0.5, "retries": 0,
                                  "reconnect_min": 0.05, "reconnect_max": 0.2})


async def main(args: argparse.Namespace) -> list[Phase]:
    full = load_config(args.config)
    first = ModbusSimulator("pump-station", points=710, update_interval=0.05)
    await first.__aenter__()
    plc = station(full, first.port)
    config = full.model_copy(update={"devices": [plc]})
    clock = ManualClock(wall_ms=START_MS, monotonic=0.0)
    aggregator = Aggregator.from_config(config, epoch="bench", next_seq=1, clock=clock)
    phases = [Phase(name, args.hours) for name in ("healthy", "unplugged", "not answering", "back")]
    healthy, unplugged, silent, back = phases

    async def run(phase: Phase, source: ModbusSource) -> None:
        for _ in range(round(phase.hours * 3600 / plc.poll_interval)):
            t = clock.wall_ms()
            scan = [r._replace(t=t) for r in await source.poll()]
            phase.count(aggregator.add(scan, clock.monotonic()))
            clock.advance(plc.poll_interval)
            phase.count(aggregator.tick(clock.monotonic()))

    async with ModbusSource(plc) as source:
        await run(healthy, source)
        await first.__aexit__(None, None, None)
        await run(unplugged, source)
    # Every reply dropped; a short timeout only to keep the run short (a poll still counts as one
    # poll interval of station time, as a 1 s timeout would roughly take).
    async with (ModbusSimulator("pump-station", points=710, port=plc.port, faults=parse_faults(["timeout:1"])),
                ModbusSource(plc.model_copy(update={"timeout": 0.02})) as source):
        await run(silent, source)
    async with (ModbusSimulator("pump-station", points=710, port=plc.port, update_interval=0.05),
                ModbusSource(plc) as source):
        await run(back, source)
    return phases


def report(phases: list[Phase]) -> None:
    table = Table(title="pump-station PLC (710 points, 1 s poll), per hour of station time")
    for column in ("phase", "batches/h", "KB/h", "5 KB units/h", "items/h", "vs healthy", "state records"):
        table.add_column(column, justify="left" if column == "phase" else "right")
    healthy = phases[0]
    for p in phases:
        table.add_row(p.name, f"{p.per_hour(p.batches):,.0f}", f"{p.per_hour(p.payload) / 1024:,.0f}",
                      f"{p.per_hour(p.units):,.0f}", f"{p.per_hour(p.readings):,.0f}",
                      f"{p.batches / healthy.batches:.1%}" if healthy.batches else "-",
                      ", ".join(f"{k} x{n}" for k, n in p.states.items()) or "-")
    Console(width=120).print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a quarter of an hour per phase")
    parser.add_argument("--hours", type=float, default=1.0, help="station time per phase")
    parser.add_argument("--config", type=Path, default=ROOT / "examples" / "pump-station.yaml")
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.hours = 0.25
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    with contextlib.suppress(KeyboardInterrupt):
        report(asyncio.run(main(arguments)))
