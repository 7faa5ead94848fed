"""An agent's first start: its configuration names a claim, the runner provisions the device
through the rig's provisioning service, then its MQTT sink publishes telemetry the cloud receives."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cloud.rig import Rig
from edge_agent.config import AgentConfig
from edge_agent.envelope import Batch, Reading
from edge_agent.publish.config import MqttPublishConfig, RateLimit
from edgeferry.agent_cli import resolve_identity
from provisioning.service.service import ProvisioningService
from tests.fixtures.broker import MqttClientFactory
from tests.integration.provisioning.conftest import ClaimFactory


async def test_agent_provisions_at_first_start_then_publishes(
        rig: Rig, service: ProvisioningService, claim: ClaimFactory, mqtt_client: MqttClientFactory,
        tmp_path: Path) -> None:
    bootstrap = claim("SN-42").model_copy(update={"endpoint": service.host, "port": service.port})
    config = AgentConfig.model_validate({
        "thing": "gateway-SN-42", "site": "plant-7", "asset_type": "gateway",
        "devices": [{"type": "modbus_tcp", "name": "plc", "host": "127.0.0.1",
                     "points": [{"name": "flow", "address": 0, "dtype": "float32"}]}],
        "publish": {"type": "mqtt", "endpoint": rig.host, "port": rig.port, "connect_jitter": 0.1,
                    "rate_limit": RateLimit(enabled=False).model_dump()},
        "identity": {"dir": str(tmp_path / "identity"), "ca": str(rig.ca_path),
                     "claim": bootstrap.model_dump(mode="json")},
    })
    assert isinstance(config.publish, MqttPublishConfig)
    identity = await resolve_identity(config, config.publish)
    assert identity.thing_name == config.thing

    cloud = await mqtt_client(rig.cloud_identity)
    await cloud.subscribe("$aws/rules/#")
    batch = Batch(device=config.thing, site="plant-7", asset_type="gateway", epoch="e1", seq=1, start=0, end=1,
                  readings=(Reading(config.thing, "flow", 1_700_000_000_000, 1.5),), last={"flow": 1.5})
    async with config.publish.build(identity) as sink:
        for _ in range(400):  # the sink connects after its jitter; the forwarder would retry
            if getattr(sink, "connected", False):
                break
            await asyncio.sleep(0.05)
        await sink.send(batch)
    message = await cloud.next_message()
    assert message.topic == "$aws/rules/edgeferry_telemetry/dt/plant-7/gateway/gateway-SN-42/telemetry"
    assert message.json()["seq"] == 1

    again = await resolve_identity(config, config.publish)
    assert again.cert_path == identity.cert_path
    assert service.registry.thing("gateway-SN-42") is not None
