"""The rig starts, issues identities the edge agent can load, and carries messages over mTLS."""

from __future__ import annotations

import stat
from pathlib import Path

from cloud.rig import Rig
from edge_agent.identity import Identity, IdentityConfig
from tests.fixtures.broker import MqttClientFactory


async def test_device_telemetry_reaches_the_cloud_identity(rig: Rig, mqtt_client: MqttClientFactory,
                                                           tmp_path: Path) -> None:
    cloud = await mqtt_client(rig.cloud_identity)
    assert all(code < 0x80 for code in await cloud.subscribe("$aws/rules/#", "dt/#"))
    device = await mqtt_client(rig.issue_identity("pump-1", tmp_path / "pump-1"))

    assert await device.publish("$aws/rules/edgeferry_telemetry/dt/s1/pump/pump-1/telemetry", b'{"a":1}') == 0
    assert await device.publish("dt/s1/pump/pump-1/alarm", b'{"b":2}') == 0

    got = {m.topic: m.json() for m in await cloud.collect(2)}
    assert got == {"$aws/rules/edgeferry_telemetry/dt/s1/pump/pump-1/telemetry": {"a": 1},
                   "dt/s1/pump/pump-1/alarm": {"b": 2}}


def test_issued_identity_loads_in_the_edge_agent_layout(rig: Rig, tmp_path: Path) -> None:
    directory = rig.issue_identity("reefer-7", tmp_path / "id")
    identity = Identity.load(IdentityConfig(dir=directory), default_thing="other")
    assert identity.thing_name == "reefer-7"
    assert identity.ca_path is not None
    assert identity.ca_path.read_bytes() == rig.ca_path.read_bytes()
    assert stat.S_IMODE(identity.key_path.stat().st_mode) == 0o600


def test_stop_start_and_kill(rig: Rig) -> None:
    port = rig.port
    assert Rig(rig.directory).is_running()
    rig.kill()
    assert not rig.is_running()
    rig.start()
    assert rig.is_running()
    assert rig.port == port
    Rig(rig.directory).stop()
    assert not rig.is_running()
