"""Devices provision against the local service on a real rig, then use their identity."""

from __future__ import annotations

import stat
from pathlib import Path

from cloud.rig import Rig
from edge_agent.identity import IdentityConfig
from provisioning.device import ensure_identity
from provisioning.service.service import ProvisioningService
from tests.fixtures.broker import MqttClientFactory
from tests.integration.provisioning.conftest import ClaimFactory


async def test_provisioned_device_publishes_telemetry(
        rig: Rig, service: ProvisioningService, claim: ClaimFactory, mqtt_client: MqttClientFactory,
        tmp_path: Path) -> None:
    config = IdentityConfig(dir=tmp_path / "device", ca=rig.ca_path, claim=claim("SN-0001"))
    identity = await ensure_identity(config, service.host, service.port, "SN-0001")

    assert identity.thing_name == "gateway-SN-0001"
    assert stat.S_IMODE(identity.key_path.stat().st_mode) == 0o600
    thing = service.registry.thing("gateway-SN-0001")
    assert thing is not None
    assert thing.attributes["site"] == "plant-7"
    assert [c.status for c in thing.certificates] == ["ACTIVE"]

    cloud = await mqtt_client(rig.cloud_identity)
    await cloud.subscribe("dt/#")
    device = await mqtt_client(config.dir)
    topic = "dt/plant-7/gateway/gateway-SN-0001/telemetry"
    assert await device.publish(topic, b'{"v": 1}') == 0
    message = await cloud.next_message()
    assert message.topic == topic



async def test_agent_start_provisions_through_the_claims_own_endpoint(
        rig: Rig, service: ProvisioningService, claim: ClaimFactory, tmp_path: Path) -> None:
    """The agent passes the broker's endpoint; the claim names the rig's provisioning endpoint."""
    local = claim("SN-0002").model_copy(update={"endpoint": service.host, "port": service.port})
    config = IdentityConfig(dir=tmp_path / "device", ca=rig.ca_path, claim=local)
    identity = await ensure_identity(config, endpoint="localhost", port=rig.port, thing_hint="SN-0002")
    assert identity.thing_name == "gateway-SN-0002"
    assert identity.endpoint == "localhost"
