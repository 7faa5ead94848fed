"""Ctrl-C with the broker down: the agent stops within its shutdown grace and says how many batches
stay in the spool; a second Ctrl-C stops it at once. Either way no spooled batch is lost.

"Down" is a closed port, or a port that takes the connection and never answers (the client is then
mostly in a TLS handshake that only times out after 10 s, which used to hold the stop that long)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloud.rig import Rig
from simulators.modbus.server import ModbusSimulator
from tests.e2e.agent_config import agent_config
from tests.e2e.agent_process import AgentProcess

GRACE = 3.0
SLACK = 5.0
"""Generous for a loaded machine; a stop used to take the grace plus up to 10 s (the client's
stop waited for a TLS handshake to time out)."""


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(params=["closed", "silent"])
def dead_broker(request: pytest.FixtureRequest) -> Iterator[tuple[str, int]]:
    """A broker that is down, and its port: nothing listening, or a listener that never answers."""
    if request.param == "closed":
        yield "closed", closed_port()
        return
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        yield "silent", int(silent.getsockname()[1])


async def start_offline_agent(rig: Rig, simulator: ModbusSimulator, directory: Path, port: int) -> AgentProcess:
    """An agent whose broker is unreachable, polling the simulator until it has spooled batches."""
    rig.issue_identity("pump-1", directory / "identity")
    device = simulator.device_config("plc", points=simulator.point_configs()[:5], poll_interval="200ms")
    config = agent_config(directory, thing="pump-1", broker=("127.0.0.1", port), ca=rig.ca_path,
                          device=device, batching={"max_readings": 10, "max_age": "1s"},
                          shutdown_grace=f"{GRACE:g}s")
    agent = AgentProcess(directory, config)
    await agent.start()
    await agent.wait_health(lambda h: h.get("spool", {}).get("depth", 0) >= 3, 60, "batches spooled")
    return agent


@pytest.mark.parametrize("presses", [1, 2])
async def test_ctrl_c_with_the_broker_down(rig: Rig, tmp_path: Path, presses: int,
                                           dead_broker: tuple[str, int]) -> None:
    kind, port = dead_broker
    async with ModbusSimulator("pump-station", port=0) as simulator:
        agent = await start_offline_agent(rig, simulator, tmp_path / "agent", port)
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
        if kind == "closed":  # a silent one fails only when the handshake times out (10 s)
            assert agent.log_events("mqtt_connect_failed"), agent.log_tail()
    else:
        assert code == 130, agent.log_tail()
        assert took < SLACK, agent.log_tail()
        assert agent.log_events("stopping_now")
