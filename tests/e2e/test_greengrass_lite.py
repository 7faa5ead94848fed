"""The component as Greengrass runs it, on a real nucleus: AWS IoT Greengrass Nucleus Lite.

`edgeferry component build` makes the recipe and the wheelhouse archive for this machine; the
harness stages them as a local deployment does, and Lite's ``recipe-runner`` runs the recipe's
install step (inside a network namespace with no way out: offline) and its run step, which starts
the component with the SVCUID and IPC socket Lite hands it. The component reads its
configuration over IPC (``GetConfiguration``: Lite's strings-only YAML values), polls the Modbus
simulator and publishes with ``PublishToIoTCore`` through ``iotcored`` to the rig's basic-ingest
topics, where a ledger counts every batch. Nucleus exercised: Nucleus Lite 2.6 (not the Java
nucleus; see docs/greengrass.md for where they differ).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cloud.ledger import BatchLedger
from components.build import build_component
from components.platforms import host_platform
from simulators.modbus.server import ModbusSimulator
from tests.fixtures.broker import MqttClientFactory, MqttTestClient, wait_until
from tests.fixtures.lite_nucleus import Deployed, LiteNucleus

NAME = "com.edgeferry.FieldbusGateway"
PUBLISH_WAIT = 120.0
"""Generous: a component start on a loaded machine includes importing the whole agent."""


@dataclass(frozen=True, slots=True)
class BuiltComponent:
    recipe: Path
    artifacts: Path
    version: str


def _python_on_path() -> str:
    """X.Y of the ``python3`` the install step will find (the wheelhouse serves only it)."""
    done = subprocess.run(["python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture(scope="module")
def components(tmp_path_factory: pytest.TempPathFactory) -> dict[str, BuiltComponent]:
    """Versions 1.4.0 and 1.5.0 built for this machine, as ``component build`` writes them."""
    out = tmp_path_factory.mktemp("greengrass-build")
    built = {}
    for version in ("1.4.0", "1.5.0"):
        result = build_component(out=out, version=version, platforms=[host_platform()],
                                 pythons=(_python_on_path(),))
        built[version] = BuiltComponent(result.recipe, out / "artifacts" / NAME / version, version)
    return built


def _agent(sim: ModbusSimulator, devices: int, work: Path) -> dict[str, Any]:
    """An agent polling ``devices`` devices on the simulator; device ``i`` polls points 3i..3i+2."""
    points = sim.point_configs()
    return {
        "site": "plant", "asset_type": "pump-station",
        "devices": [sim.device_config(f"plc{i}", poll_interval="200ms", points=points[3 * i:3 * i + 3])
                    for i in range(devices)],
        "aggregation": {"mode": "raw"},
        "batching": {"max_age": "300ms"},
        "spool": {"type": "sqlite", "path": str(work / "spool.db")},
        "publish": {"type": "greengrass_ipc", "rule": "edgeferry_telemetry"},
        "status": {"shutdown_grace": "5s", "interval": "500ms", "health_file": str(work / "health.json")},
    }


class Ledger:
    """The rig's basic-ingest traffic, counted by batch key, and which points it carried."""

    def __init__(self, cloud: MqttTestClient) -> None:
        self.cloud = cloud
        self.batches = BatchLedger()
        self.points: set[str] = set()
        self.topics: set[str] = set()

    async def drain(self) -> None:
        while not self.cloud.messages.empty():
            message = self.cloud.messages.get_nowait()
            self.topics.add(message.topic)
            self.batches.record(message.payload)
            self.points |= {r["point"] for r in json.loads(message.payload).get("readings", [])}

    async def until(self, condition: Any, within: float = PUBLISH_WAIT) -> None:
        async def holds() -> None:
            while True:
                await self.drain()
                if condition():
                    return
                await asyncio.sleep(0.1)
        await asyncio.wait_for(holds(), within)


@dataclass
class Plant:
    """The simulated PLC, reachable from inside the nucleus's namespace, and the rig's ledger."""

    sim: ModbusSimulator
    ledger: Ledger
    work: Path


@pytest.fixture
async def plant(lite_nucleus: LiteNucleus, mqtt_client: MqttClientFactory) -> AsyncIterator[Plant]:
    cloud = await mqtt_client(lite_nucleus.rig.cloud_identity)
    await cloud.subscribe("$aws/rules/#")
    async with ModbusSimulator("pump-station", port=0, points=10, update_interval=0.2) as sim:
        lite_nucleus.expose(sim.port)
        yield Plant(sim, Ledger(cloud), lite_nucleus.root / "work" / NAME)


async def _install_and_run(nucleus: LiteNucleus, component: BuiltComponent,
                           configuration: dict[str, Any]) -> tuple[Deployed, subprocess.Popen[bytes]]:
    """Deploy, install (in a thread: the simulator shares this event loop) and start the run step."""
    deployed = nucleus.deploy(component.recipe, component.artifacts, configuration)
    install = await asyncio.to_thread(nucleus.run_phase, deployed, "install")
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    return deployed, nucleus.start_phase(deployed)


def _health_version(work: Path) -> str | None:
    try:
        return json.loads((work / "health.json").read_text()).get("version")  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return None


def _spool_report(work: Path) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "edgeferry", "spool", "inspect", str(work / "spool.db"), "--json"],
                          capture_output=True, text=True, check=False, cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


@pytest.mark.timeout(1200)  # includes building two component versions (pip download)
async def test_deployed_component_publishes_through_lite_and_takes_a_device_live(
        lite_nucleus: LiteNucleus, plant: Plant, components: dict[str, BuiltComponent]) -> None:
    sim, ledger, work = plant.sim, plant.ledger, plant.work
    deployed, running = await _install_and_run(lite_nucleus, components["1.4.0"],
                                         {"agent": _agent(sim, 1, work)})
    log = f"{NAME}-1.4.0"
    try:
        await ledger.until(lambda: ledger.batches.unique >= 3)
    except TimeoutError:
        pytest.fail("no batches through Lite:\n" + lite_nucleus.log(log)[-4000:])
    assert (work / "env-1.4.0" / "bin" / "python").exists()
    first, second = ({p["name"] for p in sim.point_configs()[i:i + 3]} for i in (0, 3))
    assert ledger.points == first
    assert ledger.topics == {f"$aws/rules/edgeferry_telemetry/dt/plant/pump-station/{lite_nucleus.thing}/telemetry"}
    await wait_until(lambda: lite_nucleus.states(NAME) == ["RUNNING"], within=30)

    # A configuration update through Lite's configuration store adds a device, live.
    agent_devices = _agent(sim, 2, work)["devices"]
    lite_nucleus.merge_configuration(["services", NAME, "configuration", "agent", "devices"], agent_devices)
    await ledger.until(lambda: second <= ledger.points)
    assert running.poll() is None

    assert await asyncio.to_thread(lite_nucleus.stop_process, running) == 0, lite_nucleus.log(log)[-3000:]
    report = _spool_report(work)
    await ledger.until(lambda: ledger.batches.unique >= report["last_seq"], within=30)
    produced = report["last_seq"]
    assert report["depth"] == 0
    assert ledger.batches.seqs(lite_nucleus.thing, report["epoch"]) == set(range(1, produced + 1))  # lost 0
    assert ledger.batches.malformed == 0
    text = lite_nucleus.log(log)
    assert '"version": "1.4.0"' in text
    assert "configuration_validation_unavailable" in text  # Lite does not serve it; the component copes
    assert "agent_reconfigured" in text
    assert _health_version(work) == "1.4.0"
    assert deployed.version == "1.4.0"


@pytest.mark.timeout(900)
async def test_invalid_configuration_reports_errored(
        lite_nucleus: LiteNucleus, plant: Plant, components: dict[str, BuiltComponent]) -> None:
    agent = _agent(plant.sim, 1, plant.work)
    agent["devices"][0]["port"] = 70000
    _, running = await _install_and_run(lite_nucleus, components["1.4.0"], {"agent": agent})
    await wait_until(lambda: running.poll() is not None, within=PUBLISH_WAIT)
    assert running.returncode != 0
    assert lite_nucleus.states(NAME) == ["ERRORED"]
    assert "devices[0].port" in lite_nucleus.log(f"{NAME}-1.4.0")


@pytest.mark.slow
@pytest.mark.timeout(1800)  # three offline installs on a loaded machine
async def test_upgrade_and_rollback_run_the_deployed_version(
        lite_nucleus: LiteNucleus, plant: Plant, components: dict[str, BuiltComponent]) -> None:
    sim, ledger, work = plant.sim, plant.ledger, plant.work
    configuration = {"agent": _agent(sim, 1, work)}
    seen = 0
    for version in ("1.4.0", "1.5.0", "1.4.0"):
        _, running = await _install_and_run(lite_nucleus, components[version], configuration)
        await ledger.until(lambda: ledger.batches.unique >= seen + 2)  # noqa: B023 (awaited here)
        seen = ledger.batches.unique
        await wait_until(lambda: _health_version(work) == version, within=30)  # noqa: B023
        assert await asyncio.to_thread(lite_nucleus.stop_process, running) == 0
    report = _spool_report(work)
    await ledger.until(lambda: ledger.batches.unique >= report["last_seq"], within=30)
    assert ledger.batches.seqs(lite_nucleus.thing, report["epoch"]) == set(range(1, report["last_seq"] + 1))
    assert sorted(p.name for p in work.glob("env-*")) == ["env-1.4.0", "env-1.5.0"]
    assert '"version": "1.5.0"' in lite_nucleus.log(f"{NAME}-1.5.0")
