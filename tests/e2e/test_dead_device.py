"""An unplugged PLC costs the agent one state record, not a message per poll: the standalone agent
against a Modbus simulator that goes away and comes back, publishing to a file."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from simulators.modbus.server import ModbusSimulator
from tests.e2e.agent_config import file_agent_config
from tests.e2e.agent_process import AgentProcess, published_batches

WITHIN = 120.0
"""Generous: the agent reacts within a second or two, but the machine may be loaded."""
MEASURE = 5.0
"""Seconds of publishing counted in each state."""


def _states(batches: list[dict[str, Any]]) -> list[tuple[str, int | None]]:
    return [(r["v"], r.get("code")) for b in batches for r in b.get("readings", []) if r["point"] == "plc:state"]


async def test_an_unplugged_plc_costs_one_record_and_comes_back_up(tmp_path: Path) -> None:
    published = tmp_path / "published.jsonl"  # where file_agent_config publishes
    sim = ModbusSimulator("pump-station", port=0, points=20, update_interval=0.2)
    await sim.__aenter__()
    device = sim.device_config("plc", poll_interval="100ms", timeout="500ms", retries=0,
                               reconnect_min="100ms", reconnect_max="500ms")
    config = file_agent_config(tmp_path, thing="dead-1", device=device, aggregation={"bad_heartbeat": "1h"})
    agent = AgentProcess(tmp_path, config)
    try:
        await agent.start()
        await agent.wait_until(lambda: len(published_batches(published)) >= 3, WITHIN, "first batches")
        before = len(published_batches(published))
        await asyncio.sleep(MEASURE)
        healthy = len(published_batches(published)) - before

        await sim.__aexit__(None, None, None)  # the PLC is unplugged
        await agent.wait_until(lambda: _states(published_batches(published)), WITHIN, "the down record")
        before = len(published_batches(published))
        await asyncio.sleep(MEASURE)
        after = published_batches(published)
        down = len(after) - before
        assert healthy >= 5, "the healthy agent publishes every 300 ms"
        assert down <= healthy // 10, f"unplugged: {down} batches in {MEASURE:g} s against {healthy} healthy"
        assert _states(after) == [("down", -2)], "one record: down, disconnected (-2)"
        assert {r["point"] for b in after[before:] for r in b.get("readings", [])} <= {"plc:state"}

        sim = ModbusSimulator("pump-station", port=sim.port, points=20, update_interval=0.2)
        await sim.__aenter__()  # plugged in again
        await agent.wait_until(lambda: len(_states(published_batches(published))) == 2, WITHIN, "the up record")
        back = published_batches(published)
        assert _states(back) == [("down", -2), ("up", None)]
        await agent.wait_until(lambda: len(published_batches(published)) > len(back) + 3, WITHIN, "data again")
        assert await agent.stop() == 0
    finally:
        await agent.cleanup()
        await sim.__aexit__(None, None, None)


async def test_a_plc_that_accepts_but_never_answers_costs_one_record(tmp_path: Path) -> None:
    """Its first request of a poll times out, the client drops the connection, the rest of the poll
    is disconnected, the next poll reconnects: the faults alternate, the device stays down."""

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while await reader.read(1024):
                pass
        writer.close()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    device = {"type": "modbus_tcp", "name": "plc", "host": "127.0.0.1", "port": port, "poll_interval": "100ms",
              "timeout": "200ms", "retries": 0, "reconnect_min": "100ms", "reconnect_max": "300ms",
              "max_gap": 0, "points": [{"name": f"p{a}", "address": a} for a in (0, 10, 20)]}
    config = file_agent_config(tmp_path, thing="silent-1", device=device, aggregation={"bad_heartbeat": "1h"})
    agent = AgentProcess(tmp_path, config)
    published = tmp_path / "published.jsonl"
    try:
        await agent.start()
        await agent.wait_until(lambda: _states(published_batches(published)), WITHIN, "the down record")
        await asyncio.sleep(MEASURE)
        assert await agent.stop() == 0
    finally:
        await agent.cleanup()
        server.close()
        await server.wait_closed()
    batches = published_batches(published)
    assert [v for v, _ in _states(batches)] == ["down"]
    assert {r["point"] for b in batches for r in b.get("readings", [])} == {"plc:state"}
    assert len(batches) == 1, f"{len(batches)} batches for a device that never answered"
