"""ThingsBoard IoT Gateway's Modbus connector polling the same station, for a side-by-side figure.

The gateway runs in its own process from an interpreter that has ``thingsboard-gateway`` installed
(none is a dependency of edgeferry; e.g. ``python3 -m venv /tmp/tbvenv && /tmp/tbvenv/bin/pip
install thingsboard-gateway``). It gets one ``timeseries`` entry per point, as its documentation
shows, and no MQTT peer: its Modbus connector polls regardless (its publishing waits for a
ThingsBoard server). The simulator runs in the benchmark's process and counts the requests the
gateway sends; the gateway's CPU is read with psutil.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from simulators.modbus.server import ModbusSimulator

TB_TYPES = {"float32": "32float", "uint32": "32uint", "int16": "16int", "uint16": "16uint",
            "float64": "64float", "int32": "32int", "string": "string", "bool": "bits"}
TB_FUNCTION_CODES = {"coil": 1, "discrete_input": 2, "holding_register": 3, "input_register": 4}


@dataclass
class GatewayRun:
    points: int
    """Points the simulator served (one request each, in the per-point layout)."""
    requests: int
    seconds: float
    cpu: float
    rss_mib: float

    @property
    def cpu_per_1000(self) -> float:
        return 1000 * self.cpu / self.requests if self.requests else float("nan")


def unavailable(python: str) -> str | None:
    """Why ``python`` cannot run the gateway, or None when it can."""
    try:
        result = subprocess.run([python, "-c", "import thingsboard_gateway"], capture_output=True,
                                timeout=120, check=False)
    except OSError as exc:
        return f"cannot run {python}: {exc.strerror}"
    if result.returncode != 0:
        return (f"thingsboard-gateway is not installed for {python} (pip show thingsboard-gateway finds "
                "nothing); install it into a separate venv and pass --thingsboard-python")
    return None


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _write_config(directory: Path, sim: ModbusSimulator, poll_ms: int, python: str) -> None:
    series: list[dict[str, Any]] = []
    for e in sim.entries:
        item: dict[str, Any] = {"tag": e.signal.point_name, "type": TB_TYPES[e.dtype],
                                "functionCode": TB_FUNCTION_CODES[e.table], "address": e.address,
                                "objectsCount": e.width}
        if e.dtype == "bool":
            item["bitTargetType"] = "bool"
        series.append(item)
    slave = {"host": "127.0.0.1", "port": sim.port, "type": "tcp", "method": "socket", "unitId": sim.unit,
             "deviceName": "station", "deviceType": "default", "timeout": 5, "byteOrder": "BIG",
             "wordOrder": "BIG", "retries": 1, "pollPeriod": poll_ms, "timeseries": series,
             "attributes": [], "attributeUpdates": [], "rpc": []}
    (directory / "modbus.json").write_text(json.dumps({"master": {"slaves": [slave]}}))
    package = subprocess.run([python, "-c", "import os, thingsboard_gateway as t; print(os.path.dirname(t.__file__))"],
                             capture_output=True, text=True, check=True, timeout=120).stdout.strip()
    defaults = Path(package) / "config"
    (directory / "logs.json").write_text((defaults / "logs.json").read_text())
    gateway = json.loads((defaults / "tb_gateway.json").read_text())
    gateway["thingsboard"].update(host="127.0.0.1", port=_closed_port(), remoteConfiguration=False)
    gateway["connectors"] = [{"type": "modbus", "name": "Modbus", "configuration": "modbus.json"}]
    (directory / "tb_gateway.json").write_text(json.dumps(gateway))


async def measure(python: str, points: int, *, warmup: float, seconds: float, poll_ms: int = 1000) -> GatewayRun:
    """Run the gateway against a ``points``-point pump station; measure after ``warmup`` seconds."""
    with tempfile.TemporaryDirectory(prefix="tb-gateway-") as tmp:
        directory = Path(tmp)
        async with ModbusSimulator("pump-station", points=points) as sim:
            _write_config(directory, sim, poll_ms, python)
            env = {**os.environ, "TB_GW_CONFIG_DIR": f"{directory}/"}
            process = await asyncio.create_subprocess_exec(
                python, "-m", "thingsboard_gateway.tb_gateway", cwd=directory, env=env,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
            try:
                gateway = psutil.Process(process.pid)
                await asyncio.sleep(warmup)
                cpu0, requests0 = _cpu(gateway), sim.stats.get("requests")
                await asyncio.sleep(seconds)
                cpu, requests = _cpu(gateway) - cpu0, sim.stats.get("requests") - requests0
                rss = gateway.memory_info().rss / 2**20
            finally:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), 10)
                except TimeoutError:
                    process.kill()
                    await process.wait()
            return GatewayRun(points=len(sim.entries), requests=requests, seconds=seconds, cpu=cpu, rss_mib=rss)


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system + times.children_user + times.children_system)
