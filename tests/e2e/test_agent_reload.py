"""SIGHUP makes the standalone agent reread its config file: a valid change applies live, an
invalid one is refused with one log line per problem and the agent runs on unchanged."""

from __future__ import annotations

import copy
import signal
from pathlib import Path
from typing import Any

from simulators.modbus.server import ModbusSimulator
from tests.e2e.agent_config import file_agent_config
from tests.e2e.agent_process import AgentProcess, published_batches

WITHIN = 120.0
"""Generous: the agent starts and reloads in seconds, but the machine may be loaded."""


def _points(batches: list[dict[str, Any]]) -> set[str]:
    return {r["point"] for b in batches for r in b.get("readings", [])}


async def test_sighup_reloads_a_valid_config_and_refuses_an_invalid_one(tmp_path: Path) -> None:
    published = tmp_path / "published.jsonl"  # where file_agent_config publishes
    async with ModbusSimulator("pump-station", port=0, points=20, update_interval=0.2) as sim:
        points = sim.point_configs()
        config = file_agent_config(tmp_path, thing="reload-1",
                                   device=sim.device_config("plc", poll_interval="200ms", points=points[:3]))
        agent = AgentProcess(tmp_path, config)
        try:
            await agent.start()
            first = {p["name"] for p in points[:3]}
            await agent.wait_until(lambda: _points(published_batches(published)) == first, WITHIN,
                                   "first batches")

            # A valid change: two more points. They appear in the published batches.
            agent.config = copy.deepcopy(config)
            agent.config["devices"][0]["points"] = points[:5]
            agent.write_config()
            agent.send(signal.SIGHUP)
            wanted = {p["name"] for p in points[:5]}
            await agent.wait_until(lambda: _points(published_batches(published)[-5:]) == wanted, WITHIN,
                                   "the new points")
            assert len(agent.log_events("configuration_reload")) == 1
            assert agent.log_events("configuration_update_refused") == []

            # An invalid file with two problems: one log line each, with its field path; the
            # agent keeps running the configuration it has.
            broken = copy.deepcopy(agent.config)
            broken["devices"][0]["points"][0]["dtype"] = "float33"
            broken["batching"]["max_age"] = "soon"
            agent.config = broken
            agent.write_config()
            agent.send(signal.SIGHUP)
            await agent.wait_until(lambda: len(agent.log_events("configuration_update_refused")) >= 2,
                                   WITHIN, "the refusal")
            refused = agent.log_events("configuration_update_refused")
            assert len(refused) == 2
            assert sorted(r["problem"].split(":")[0] for r in refused) == [
                "batching.max_age", "devices[0].points[0].dtype"]
            assert all(r["level"] == "error" and r["kept"] == "running configuration" for r in refused)
            count = len(published_batches(published))
            await agent.wait_until(lambda: len(published_batches(published)) > count + 3, WITHIN,
                                   "batches after the refusal")
            assert _points(published_batches(published)[count:]) == wanted
            assert await agent.stop() == 0
        finally:
            await agent.cleanup()
    seqs = [b["seq"] for b in published_batches(published)]
    assert seqs == list(range(1, len(seqs) + 1)), f"every seq once, in order, across both reloads: {seqs}"
