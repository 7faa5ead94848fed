"""The demo's cast: agent configurations made from the example configs, pointed at the local
simulators and the local IoT Core, with demo-sized windows and batch ages."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from edge_agent.config import AgentConfig, parse_config

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


TEMPLATE = "edgeferry-device"
"""The provisioning template the demo's devices register with: thing ``<AssetType>-<SerialNumber>``."""


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where the demo's services listen."""

    broker_host: str
    broker_port: int
    ca: Path
    provisioning_host: str
    provisioning_port: int
    pump_modbus_port: int
    pump_opcua_endpoint: str
    reefer_modbus_ports: tuple[int, ...]


def claim_dir(run_dir: Path, thing: str) -> Path:
    """Where the device's claim (bootstrap) certificate is put before its first start."""
    return run_dir / "agents" / thing / "claim"


def _example(name: str) -> dict[str, Any]:
    data = yaml.safe_load((EXAMPLES / name).read_text())
    assert isinstance(data, dict)
    return data


def _local(config: dict[str, Any], run_dir: Path, endpoints: Endpoints, serial: str) -> dict[str, Any]:
    """Spool, identity, health file under ``run_dir``; an identity provisioned at first start from a
    claim certificate; publish to the local broker, quick to reconnect."""
    thing_dir = run_dir / "agents" / config["thing"]
    claim = claim_dir(run_dir, config["thing"])
    config["spool"] = {**config.get("spool", {}), "path": str(thing_dir / "spool.db")}
    config["identity"] = {
        "dir": str(thing_dir / "identity"), "ca": str(endpoints.ca),
        "claim": {"certificate": str(claim / "claim.cert.pem"), "private_key": str(claim / "claim.key.pem"),
                  "template": TEMPLATE, "endpoint": endpoints.provisioning_host,
                  "port": endpoints.provisioning_port,
                  "parameters": {"SerialNumber": serial, "Site": config["site"],
                                 "AssetType": config["asset_type"]}},
    }
    config["publish"] = {**config.get("publish", {}), "endpoint": endpoints.broker_host,
                         "port": endpoints.broker_port, "connect_jitter": "1s",
                         "reconnect_min": "500ms", "reconnect_max": "4s"}
    config["status"] = {"health_file": str(thing_dir / "health.json"), "interval": "1s",
                        "shutdown_grace": "20s"}
    return config


def pump_station(run_dir: Path, endpoints: Endpoints) -> AgentConfig:
    """The 1,000-point pumping station, with 5 s windows and 5 s batches so a short demo shows them."""
    config = _example("pump-station.yaml")
    config["thing"] = f"{config['asset_type']}-RS01"
    plc, booster = config["devices"]
    plc.update(host="127.0.0.1", port=endpoints.pump_modbus_port)
    booster.update(endpoint=endpoints.pump_opcua_endpoint)
    config["aggregation"] = {**config["aggregation"], "window": "5s"}
    config["batching"] = {**config["batching"], "max_age": "5s"}
    return parse_config(_local(config, run_dir, endpoints, "RS01"), "demo pump station")


def reefer(run_dir: Path, endpoints: Endpoints, index: int) -> AgentConfig:
    """A reefer trailer whose controller (RTU in the example) is reached over Modbus/TCP, polled
    every 2 s with 10 s bundles."""
    config = copy.deepcopy(_example("reefer.yaml"))
    serial = f"{index + 1:04d}"
    config["thing"] = f"{config['asset_type']}-{serial}"
    controller = config["devices"][0]
    for serial_only in ("port", "baudrate", "parity", "stopbits", "bytesize"):
        controller.pop(serial_only, None)
    controller.update(type="modbus_tcp", host="127.0.0.1", port=endpoints.reefer_modbus_ports[index],
                      poll_interval="2s")
    config["batching"] = {**config["batching"], "max_age": "10s"}
    return parse_config(_local(config, run_dir, endpoints, serial), f"demo reefer {index + 1}")
