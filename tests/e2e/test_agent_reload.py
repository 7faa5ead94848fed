"""SIGHUP makes the standalone agent reread its config file: a valid change applies live, an
invalid one is refused with one log line per problem and the agent runs on unchanged."""

from __future__ import annotations

import asyncio
import copy
import json
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simulators.modbus.server import ModbusSimulator
from tests.e2e.agent_process import AgentProcess

WITHIN = 60.0


def _batches(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return []
    return [json.loads(line) for line in lines if line.endswith("}")]


def _points(batches: list[dict[str, Any]]) -> set[str]:
    return {r["point"] for b in batches for r in b.get("readings", [])}


async def _until(agent: AgentProcess, condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WITHIN
    while not condition():
        if not agent.running:
            raise AssertionError(f"{what}: the agent exited\n{agent.log_tail()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {WITHIN:g} s\n{agent.log_tail()}")
        await asyncio.sleep(0.2)


async def test_sighup_reloads_a_valid_config_and_refuses_an_invalid_one(tmp_path: Path) -> None:
    published = tmp_path / "published.jsonl"
    async with ModbusSimulator("pump-station", port=0, points=20, update_interval=0.2) as sim:
        points = sim.point_configs()
        config = {
            "thing": "reload-1", "site": "plant", "asset_type": "pump",
            "devices": [sim.device_config("plc", poll_interval="200ms", points=points[:3])],
            "aggregation": {"mode": "raw"},
            "batching": {"max_age": "300ms"},
            "spool": {"type": "sqlite", "path": str(tmp_path / "spool.db")},
            "publish": {"type": "file", "path": str(published)},
            "status": {"health_file": str(tmp_path / "health.json"), "interval": "1s"},
        }
        agent = AgentProcess(tmp_path, config)
        try:
            await agent.start()
            first = {p["name"] for p in points[:3]}
            await _until(agent, lambda: _points(_batches(published)) == first, "first batches")

            # A valid change: two more points. They appear in the published batches.
            agent.config = copy.deepcopy(config)
            agent.config["devices"][0]["points"] = points[:5]
            agent.write_config()
            agent.send(signal.SIGHUP)
            wanted = {p["name"] for p in points[:5]}
            await _until(agent, lambda: _points(_batches(published)[-5:]) == wanted, "the new points")
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
            await _until(agent, lambda: len(agent.log_events("configuration_update_refused")) >= 2,
                         "the refusal")
            refused = agent.log_events("configuration_update_refused")
            assert len(refused) == 2
            assert sorted(r["problem"].split(":")[0] for r in refused) == [
                "batching.max_age", "devices[0].points[0].dtype"]
            assert all(r["level"] == "error" and r["kept"] == "running configuration" for r in refused)
            count = len(_batches(published))
            await _until(agent, lambda: len(_batches(published)) > count + 3, "batches after the refusal")
            assert _points(_batches(published)[count:]) == wanted
            assert await agent.stop() == 0
        finally:
            await agent.cleanup()
    seqs = [b["seq"] for b in _batches(published)]
    assert seqs == list(range(1, len(seqs) + 1)), "every seq once, in order, across both reloads"
