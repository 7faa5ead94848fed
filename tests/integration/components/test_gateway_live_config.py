"""The component runtime against a real Modbus simulator and a real SQLite spool, with the
nucleus's IPC replaced by a stand-in of the Java nucleus's documented contract: pre-deployment
validation (``SubscribeToValidateConfigurationUpdates``, which Nucleus Lite does not serve)
accepts or rejects, updates apply live, the spool stays intact. What Lite serves (configuration,
live updates, UpdateState, PublishToIoTCore) is tested on a real Lite in
tests/e2e/test_greengrass_lite.py."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from components.gateway import GatewayComponent
from components.ipc import ComponentIpc
from simulators.modbus.server import ModbusSimulator
from tests.fixtures.broker import wait_until
from tests.fixtures.nucleus import FakeNucleus


def _points(published: list[tuple[str, bytes]]) -> set[str]:
    return {r["point"] for _, p in published for r in json.loads(p).get("readings", [])}


def _agent_config(sim: ModbusSimulator, spool: Path, points: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "site": "plant", "asset_type": "pump-station",
        "devices": [sim.device_config("plc", poll_interval="200ms", points=points)],
        "aggregation": {"mode": "raw"},
        "batching": {"max_age": "300ms"},
        "spool": {"type": "sqlite", "path": str(spool)},
        "publish": {"type": "greengrass_ipc", "rule": "edgeferry_telemetry"},
        "status": {"shutdown_grace": "3s"},
    }


async def test_configuration_update_applies_live_and_keeps_the_spool(
        tmp_path: Path, nucleus_factory: Callable[[dict[str, Any]], FakeNucleus],
        caplog: pytest.LogCaptureFixture) -> None:
    async with ModbusSimulator("pump-station", port=0, points=20, update_interval=0.2) as sim:
        all_points = sim.point_configs()
        config = _agent_config(sim, tmp_path / "spool.db", all_points[:3])
        nucleus = nucleus_factory({"agent": config, "accessControl": {}})
        component = GatewayComponent(ComponentIpc(nucleus), thing_name="core-1")
        stop = asyncio.Event()
        running = asyncio.create_task(component.run(stop))
        await wait_until(lambda: "RUNNING" in nucleus.states and len(nucleus.published) >= 3)
        assert component.agent is not None
        epoch = component.agent.spool.epoch
        first = {p["name"] for p in all_points[:3]}
        assert _points(nucleus.published) == first

        # Add two points to the device and a second device: accepted by validation, applied live.
        updated = copy.deepcopy(config)
        updated["devices"][0]["points"] = all_points[:5]
        updated["devices"].append(sim.device_config("plc2", poll_interval="200ms", points=all_points[5:7]))
        nucleus.ask_validation({"agent": updated}, "deploy-1")
        await wait_until(lambda: len(nucleus.reports) == 1)
        assert nucleus.reports[0].status == "ACCEPTED"
        nucleus.apply({"agent": updated, "accessControl": {}})
        wanted = {p["name"] for p in all_points[:7]}
        await wait_until(lambda: _points(nucleus.published[-10:]) == wanted)

        # An invalid configuration is refused by validation, and kept out if applied anyway.
        broken = copy.deepcopy(updated)
        broken["devices"][0]["points"][0]["dtype"] = "float33"
        nucleus.ask_validation({"agent": broken}, "deploy-2")
        await wait_until(lambda: len(nucleus.reports) == 2)
        assert nucleus.reports[1].status == "REJECTED"
        assert "devices[0].points[0].dtype" in nucleus.reports[1].message
        with caplog.at_level(logging.ERROR, logger="edge_agent.reload"):
            nucleus.apply({"agent": broken, "accessControl": {}})
            await wait_until(lambda: any("configuration_update_refused" in r.getMessage()
                                         for r in caplog.records))
        refused = next(r for r in caplog.records if r.getMessage() == "configuration_update_refused")
        assert refused.problem.startswith("devices[0].points[0].dtype: ")  # type: ignore[attr-defined]
        assert component.agent.config.devices[0].points[0].dtype == all_points[0]["dtype"]

        # Settings naming the spool cannot change live: refused, running config kept.
        moved = copy.deepcopy(updated)
        moved["spool"]["path"] = str(tmp_path / "elsewhere.db")
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="edge_agent.reload"):
            nucleus.apply({"agent": moved, "accessControl": {}})
            await wait_until(lambda: any("configuration_update_refused" in r.getMessage()
                                         for r in caplog.records))
        assert str(component.agent.config.spool.path) == str(tmp_path / "spool.db")

        count = len(nucleus.published)
        await wait_until(lambda: len(nucleus.published) > count + 2)  # still publishing
        stop.set()
        await asyncio.wait_for(running, 30)

    batches = [json.loads(p) for _, p in nucleus.published]
    seqs = [b["seq"] for b in batches]
    assert seqs == list(range(1, len(seqs) + 1)), "every seq once, in order, none lost or re-sent"
    assert {b["epoch"] for b in batches} == {epoch}
    assert {t for t, _ in nucleus.published} == {
        "$aws/rules/edgeferry_telemetry/dt/plant/pump-station/core-1/telemetry"}
    assert component.agent.spool.stats().depth == 0
