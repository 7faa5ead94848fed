"""The reefer modem image: ``edgeferry image build`` for this machine's platform, installed into
an empty root inside a network namespace with no network (``unshare -n``: the install is
offline), then the agent run from the installed environment against the rig."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from cloud.rig import Rig
from components.platforms import host_platform
from edgeferry.image import build_image
from simulators.modbus.server import ModbusSimulator
from tests.fixtures.broker import MqttClientFactory

ROOT = Path(__file__).resolve().parents[2]


def _device_config(example: dict[str, Any], sim: ModbusSimulator, rig: Rig) -> dict[str, Any]:
    """examples/reefer.yaml as this device's image carries it: the rig as IoT Core, the simulated
    controller on Modbus/TCP instead of RS-485, state where the example keeps it."""
    return {
        **example,
        "devices": [sim.device_config("controller", poll_interval="200ms", points=sim.point_configs()[:4])],
        "batching": {"max_age": "300ms"},
        "alarms": [],
        "publish": {**example["publish"], "endpoint": rig.host, "port": rig.port, "connect_jitter": "0s"},
        "identity": {"dir": "/var/lib/edgeferry/identity"},
        "status": {"health_file": "/var/lib/edgeferry/health.json", "interval": "500ms"},
    }


def _under(root: Path, config: dict[str, Any]) -> dict[str, Any]:
    """The installed config with its state paths inside ``root`` (the test runs no chroot)."""
    state = root / "var/lib/edgeferry"
    return {**config, "spool": {**config["spool"], "path": str(state / "spool.db")},
            "identity": {"dir": str(state / "identity")},
            "status": {**config["status"], "health_file": str(state / "health.json")}}


@pytest.mark.slow
@pytest.mark.timeout(1200)
async def test_image_installs_offline_into_an_empty_root_and_the_agent_runs_from_it(
        tmp_path: Path, rig: Rig, mqtt_client: MqttClientFactory) -> None:
    root = tmp_path / "root"
    example = yaml.safe_load((ROOT / "examples/reefer.yaml").read_text())
    async with ModbusSimulator("reefer", port=0, update_interval=0.2) as sim:
        config = _device_config(example, sim, rig)
        config_path = tmp_path / "reefer.yaml"
        config_path.write_text(yaml.safe_dump(config))
        image = build_image(config_path=config_path, platform=host_platform(), out=tmp_path / "dist",
                            version="1.4.0", pythons=(f"{sys.version_info[0]}.{sys.version_info[1]}",))
        with tarfile.open(image.archive) as tar:
            tar.extractall(tmp_path / "unpacked", filter="tar")
        root.mkdir()
        install = await asyncio.to_thread(subprocess.run, ["unshare", "--net", "--", "sh", str(tmp_path / "unpacked/edgeferry-image/install.sh"),
                                  str(root)], capture_output=True, text=True, timeout=900, check=False)
        assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]

        python = root / "opt/edgeferry/current/bin/python"
        assert os.readlink(root / "opt/edgeferry/current") == "1.4.0"
        assert yaml.safe_load((root / "etc/edgeferry/agent.yaml").read_text()) == config
        unit = (root / "etc/systemd/system/edgeferry.service").read_text()
        for line in ("Type=notify", "WatchdogSec=120", "Restart=always",
                     "ExecStart=/opt/edgeferry/current/bin/python -m edgeferry"):
            assert line in unit
        for directory in ("var/lib/edgeferry", "var/lib/edgeferry/identity"):
            assert stat.S_IMODE((root / directory).stat().st_mode) == 0o700, directory

        cloud = await mqtt_client(rig.cloud_identity)
        await cloud.subscribe("$aws/rules/#")
        rig.issue_identity(config["thing"], root / "var/lib/edgeferry/identity")
        installed = yaml.safe_load((root / "etc/edgeferry/agent.yaml").read_text())
        (tmp_path / "run.yaml").write_text(yaml.safe_dump(_under(root, installed)))
        run = await asyncio.to_thread(subprocess.run, [python, "-m", "edgeferry", "agent", "run", "--config", str(tmp_path / "run.yaml"),
                              "--duration", "8", "--no-status"],
                             capture_output=True, text=True, timeout=180, cwd=tmp_path, check=False)
        assert run.returncode == 0, run.stderr[-3000:]
    message = await cloud.next_message(within=30)
    assert message.topic == f"$aws/rules/edgeferry_telemetry/dt/fleet-eu/reefer/{config['thing']}/telemetry"
    assert any(r["q"] == 0 for r in message.json()["readings"])  # the simulated controller was read
    health = json.loads((root / "var/lib/edgeferry/health.json").read_text())
    assert health["version"] == "1.4.0"
    where = await asyncio.to_thread(subprocess.run, [python, "-c", "import edgeferry; print(edgeferry.__file__)"],
                                    capture_output=True, text=True, check=True, cwd=tmp_path)
    assert where.stdout.startswith(str(root / "opt/edgeferry/current/lib"))
