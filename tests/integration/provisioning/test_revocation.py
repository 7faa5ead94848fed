"""Revocation as an attacker would test it: within 5 s the revoked certificate's open connection
is cut (or, under another client id, can do nothing), and it cannot connect again."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from awscrt import mqtt5

from cloud.rig import Rig
from edge_agent.identity import Identity, IdentityConfig
from provisioning.device import ensure_identity
from provisioning.service.lifecycle import revoke_thing
from provisioning.service.service import ProvisioningService
from tests.fixtures.broker import MqttClientFactory, MqttTestClient
from tests.integration.provisioning.conftest import ClaimFactory

CUT_OFF = 5.0


async def _provisioned(service: ProvisioningService, claim: ClaimFactory, directory: Path,
                       serial: str) -> Identity:
    config = IdentityConfig(dir=directory, ca=service.rig.ca_path, claim=claim(serial))
    return await ensure_identity(config, service.host, service.port, serial)


async def _refused(client: MqttTestClient, within: float = 20.0) -> bool:
    """Start the client and wait for its first failed connection attempt."""
    client.client.start()
    for _ in range(int(within / 0.05)):
        if client.connect_failures:
            return True
        await asyncio.sleep(0.05)
    return False


async def test_revoked_device_is_cut_off_within_5_seconds_and_cannot_reconnect(
        rig: Rig, service: ProvisioningService, claim: ClaimFactory, mqtt_client: MqttClientFactory,
        tmp_path: Path) -> None:
    identity = await _provisioned(service, claim, tmp_path / "device", "SN-7")
    thing = identity.thing_name
    cloud = await mqtt_client(rig.cloud_identity)
    await cloud.subscribe("dt/#")
    device = await mqtt_client(tmp_path / "device")
    assert await device.publish(f"dt/plant-7/gateway/{thing}/telemetry", b"before") == 0
    assert (await cloud.next_message()).payload == b"before"

    started = time.monotonic()
    revoked = await revoke_thing(rig, service.registry, thing)
    await asyncio.wait_for(device.disconnected.wait(), CUT_OFF)
    assert time.monotonic() - started < CUT_OFF
    assert len(revoked) == 1
    record = service.registry.certificate(revoked[0])
    assert record is not None
    assert record.status == "REVOKED"

    # its client keeps retrying; the TLS handshake fails every time
    again = await mqtt_client(tmp_path / "device", client_id="another-id", connect=False)
    assert await _refused(again)
    assert not again.connected.is_set()
    assert not device.connected.is_set()
    await cloud.assert_silent(1.0)


async def test_a_provisioned_certificate_cannot_connect_under_another_client_id(
        rig: Rig, service: ProvisioningService, claim: ClaimFactory, mqtt_client: MqttClientFactory,
        tmp_path: Path) -> None:
    """The device policy allows iot:Connect only as the thing the certificate is attached to."""
    await _provisioned(service, claim, tmp_path / "device", "SN-8")
    sneaky = await mqtt_client(tmp_path / "device", client_id="not-the-thing-name", connect=False)
    sneaky.client.start()
    await asyncio.wait_for(sneaky.connect_failed.wait(), 20)
    assert sneaky.connack_refusals[0] == mqtt5.ConnectReasonCode.NOT_AUTHORIZED
    assert not sneaky.connected.is_set()


async def test_claim_certificate_is_refused_by_the_broker(
        rig: Rig, service: ProvisioningService, claim: ClaimFactory, mqtt_client: MqttClientFactory,
        tmp_path: Path) -> None:
    config = claim("mallory")
    directory = tmp_path / "claim-as-device"
    directory.mkdir()
    (directory / "device.cert.pem").write_bytes(config.certificate.read_bytes())
    (directory / "device.key.pem").write_bytes(config.private_key.read_bytes())
    (directory / "identity.json").write_text('{"thing_name": "gateway-SN-1"}')
    client = await mqtt_client(directory, connect=False)
    assert await _refused(client)
    assert not client.connected.is_set()
