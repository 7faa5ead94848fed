"""``edgeferry sim modbus`` as a child process, polled over TCP."""

from __future__ import annotations

import subprocess
import sys

import psutil
import pytest

from edge_agent.envelope import Quality
from edge_agent.errors import EdgeferryError
from edge_agent.sources.modbus.source import ModbusSource
from simulators.modbus.process import SimulatorProcess
from simulators.profiles import build_model, modbus_map
from tests.integration.sources.modbus.helpers import by_point, tcp_device


async def test_cli_simulator_serves_the_published_map_with_faults() -> None:
    points = [e.point_config() for e in modbus_map("reefer", build_model("reefer"))]
    async with SimulatorProcess(["--profile", "reefer", "--unit", "3", "--fault", "exception:15:2"]) as sim:
        pid = sim.pid
        config = tcp_device({"type": "modbus_tcp", "name": "reefer", "host": "127.0.0.1", "port": sim.port,
                             "unit": 3, "points": points, "timeout": 2.0})
        async with ModbusSource(config) as source:
            values = by_point(await source.poll())
        assert sim.cpu_seconds() > 0
    assert (values["reefer_engine_hours"].q, values["reefer_engine_hours"].code) == (Quality.BAD, 2)
    assert values["reefer_return_air"].q is Quality.GOOD, "read with engine hours, kept apart from its hole"
    assert values["reefer_container_id"].v == "EFRU1234567"
    assert values["reefer_door_open"].q is Quality.GOOD
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_a_port_in_use_is_one_clear_error() -> None:
    with SimulatorProcess(["--profile", "reefer"]) as first:
        command = [sys.executable, "-m", "edgeferry", "sim", "modbus", "--port", str(first.port)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        with pytest.raises(EdgeferryError, match="did not start"):
            SimulatorProcess(["--port", str(first.port)], startup_timeout=30).start()
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("edgeferry: error: cannot serve Modbus on")
    assert "Traceback" not in result.stderr


def test_bad_fault_flag_is_one_clear_error() -> None:
    result = subprocess.run([sys.executable, "-m", "edgeferry", "sim", "modbus", "--fault", "timeout:7"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == "edgeferry: error: fault 'timeout:7': the probability must be within 0..1"
