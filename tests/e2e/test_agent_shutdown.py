"""Ctrl-C with the broker down: the agent stops within its shutdown grace and says how many batches
stay in the spool; a second Ctrl-C stops it at once. Either way no spooled batch is lost."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from cloud.rig import Rig
from simulators.modbus.server import ModbusSimulator
from tests.e2e.agent_config import agent_config
from tests.e2e.agent_process import AgentProcess

GRACE = 3.0
SLACK = 6.0
"""Generous for a loaded machine; without the fix a stop took 11-15 s with a 5 s grace."""


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def start_offline_agent(rig: Rig, simulator: ModbusSimulator, directory: Path) -> AgentProcess:
    """An agent whose broker is unreachable, polling the simulator until it has spooled batches."""
    rig.issue_identity("pump-1", directory / "identity")
    device = simulator.device_config("plc", points=simulator.point_configs()[:5], poll_interval="200ms")
    config = agent_config(directory, thing="pump-1", broker=("127.0.0.1", closed_port()), ca=rig.ca_path,
                          device=device, batching={"max_readings": 10, "max_age": "1s"},
                          shutdown_grace=f"{GRACE:g}s")
    agent = AgentProcess(directory, config)
    await agent.start()
    await agent.wait_health(lambda h: h.get("spool", {}).get("depth", 0) >= 3, 60, "batches spooled")
    return agent


@pytest.mark.parametrize("presses", [1, 2])
async def test_ctrl_c_with_the_broker_down(rig: Rig, tmp_path: Path, presses: int) -> None:
    async with ModbusSimulator("pump-station", port=0) as simulator:
        agent = await start_offline_agent(rig, simulator, tmp_path / "agent")
        try:
            code, took = await agent.interrupt(times=presses)
        finally:
            await agent.cleanup()
    spool = await agent.inspect_spool()
    assert spool.depth >= 3
    assert spool.last_acked_seq == 0
    assert spool.depth == spool.last_seq - spool.dropped  # every batch made is still there
    if presses == 1:
        assert code == 0, agent.log_tail()
        assert took < GRACE + SLACK, agent.log_tail()
        stopped = agent.log_events("agent_stopped")[-1]
        assert stopped["unsent"] == spool.depth
        assert agent.log_events("mqtt_connect_failed"), agent.log_tail()
    else:
        assert code == 130, agent.log_tail()
        assert took < SLACK, agent.log_tail()
        assert agent.log_events("stopping_now")
