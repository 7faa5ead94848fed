"""Stopping an agent ends its sources even when a cancellation is lost on the way (Python 3.11's
asyncio.wait_for drops one that arrives just as the awaited request completes)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Self

from edge_agent.config import AgentConfig, DeviceConfig, parse_config
from edge_agent.envelope import Reading
from edge_agent.interfaces import Sink, Source
from edge_agent.metrics import Counters
from edge_agent.supervisor import Agent


class CancelSwallowingSource:
    """Polls every 10 ms and, like a request inside ``wait_for`` that completed at the wrong moment,
    drops the first cancellation it gets."""

    def __init__(self) -> None:
        self.name = "plc"
        self.counters = Counters()
        self.swallowed = 0

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def scans(self) -> AsyncIterator[Sequence[Reading]]:
        while True:
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                if self.swallowed:
                    raise
                self.swallowed += 1
                asyncio.current_task().uncancel()  # type: ignore[union-attr]
            yield [Reading("plc", "x", int(time.time() * 1000), 1.0)]


def config(tmp_path: Path) -> AgentConfig:
    return parse_config({
        "thing": "t1", "site": "s", "asset_type": "a",
        "devices": [{"type": "modbus_tcp", "name": "plc", "host": "127.0.0.1", "points": [{"name": "x", "address": 1}]}],
        "aggregation": {"mode": "raw"},
        "spool": {"type": "sqlite", "path": str(tmp_path / "spool.db")},
        "publish": {"type": "file", "path": str(tmp_path / "out.jsonl")},
        "status": {"shutdown_grace": "1s"},
    })


async def test_a_source_that_swallows_a_cancel_still_stops(tmp_path: Path) -> None:
    source = CancelSwallowingSource()

    def sources(_: DeviceConfig) -> Source:
        return source

    def sink(current: AgentConfig) -> Sink:
        return current.publish.build(None)

    agent = Agent(config(tmp_path), spool=config(tmp_path).spool.build(), sink_factory=sink,
                  source_factory=sources)
    stop = asyncio.Event()
    running = asyncio.create_task(agent.run(stop))
    await asyncio.wait_for(agent.running.wait(), 10)
    await asyncio.sleep(0.2)
    stop.set()
    await asyncio.wait_for(running, 15)
    assert source.swallowed == 1
