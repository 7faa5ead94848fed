"""A device certificate is confined to what the exported device policy allows, and only the rig's
CA gets anyone in.

Each test plays the attacker against a real Mosquitto with mTLS and checks what the privileged
(cloud) subscriber sees, not only what the broker answers. The refusals are IoT Core's under MQTT 5
(mqtt.md, "MQTT reason codes"): PUBACK 0x87 and SUBACK 0x87 Not authorized.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from pathlib import Path

import pytest
from awscrt.mqtt5 import PubackReasonCode, SubackReasonCode

from cloud.rig import CertificateAuthority, Rig, RigIdentity
from tests.fixtures.broker import MqttClientFactory, MqttTestClient, mqtt311_connect, wait_until


@pytest.fixture
async def cloud(rig: Rig, mqtt_client: MqttClientFactory) -> MqttTestClient:
    client = await mqtt_client(rig.cloud_identity)
    codes = await client.subscribe("$aws/rules/#", "dt/#", "cmd/#")
    assert codes[:2] == [SubackReasonCode.GRANTED_QOS_1] * 2
    return client


@pytest.fixture
async def mallory(rig: Rig, mqtt_client: MqttClientFactory, tmp_path: Path) -> MqttTestClient:
    return await mqtt_client(rig.issue_identity("mallory", tmp_path / "mallory"))


@pytest.mark.parametrize("topic", [
    "dt/site1/pump/victim/telemetry",
    "$aws/rules/edgeferry_telemetry/dt/site1/pump/victim/telemetry",
    "$aws/rules/edgeferry_telemetry/dt/site1/pump/victim",
    "$aws/rules/mallory/dt/site1/pump/victim/telemetry",
    "dt/mallory/pump/victim/telemetry",
    "cmd/victim/reboot",
    "$aws/things/victim/shadow/update",
    "other/topic",
])
async def test_device_cannot_publish_outside_its_own_topics(
        mallory: MqttTestClient, cloud: MqttTestClient, topic: str) -> None:
    assert await mallory.publish(topic, b'{"forged":true}') == PubackReasonCode.NOT_AUTHORIZED
    # a legitimate publish after the forged one proves the subscriber would have seen it by now
    own = "$aws/rules/edgeferry_telemetry/dt/site1/pump/mallory/telemetry"  # the agent's default
    assert await mallory.publish(own, b'{"own":true}') == PubackReasonCode.SUCCESS
    message = await cloud.next_message()
    assert (message.topic, message.json()) == (own, {"own": True})
    await cloud.assert_silent(0.3)


@pytest.mark.parametrize("topic_filter", [
    "$aws/rules/#", "$aws/rules/+/dt/+/+/victim/#", "dt/#", "dt/+/+/victim/#", "cmd/victim/#", "cmd/#",
    "#", "+/+/+/victim/#",
])
async def test_device_cannot_read_what_is_not_its_own(
        rig: Rig, mallory: MqttTestClient, mqtt_client: MqttClientFactory, cloud: MqttTestClient,
        tmp_path: Path, topic_filter: str) -> None:
    victim = await mqtt_client(rig.issue_identity("victim", tmp_path / "victim"))
    codes = await mallory.subscribe(topic_filter)
    await cloud.publish("cmd/victim/reboot", b"{}")
    assert await victim.publish("$aws/rules/edgeferry_telemetry/dt/site1/pump/victim/telemetry", b"{}") == 0
    assert await victim.publish("dt/site1/pump/victim/telemetry", b"{}") == 0
    assert len(await cloud.collect(2)) == 2  # both data messages reached the cloud side
    assert codes == [SubackReasonCode.NOT_AUTHORIZED]
    await mallory.assert_silent(0.5)


async def test_device_reads_its_own_commands(rig: Rig, mqtt_client: MqttClientFactory,
                                             cloud: MqttTestClient, tmp_path: Path) -> None:
    device = await mqtt_client(rig.issue_identity("pump-9", tmp_path / "pump-9"))
    assert await device.subscribe("cmd/pump-9/#") == [SubackReasonCode.GRANTED_QOS_1]
    await cloud.publish("cmd/pump-9/setpoint", b'{"sp":4}')
    message = await device.next_message()
    assert (message.topic, message.json()) == ("cmd/pump-9/setpoint", {"sp": 4})


def _foreign_identities(tmp_path: Path) -> dict[str, tuple[Path, Path] | None]:
    """Client credentials the rig must refuse: none, self-signed, and signed by another CA."""
    CertificateAuthority.open(tmp_path / "self", common_name="victim")
    other = CertificateAuthority.open(tmp_path / "other-ca").issue("victim")
    (tmp_path / "other.pem").write_bytes(other.cert_pem)
    (tmp_path / "other.key").write_bytes(other.key_pem)
    return {
        "no-certificate": None,
        "self-signed": (tmp_path / "self" / "ca.pem", tmp_path / "self" / "ca.key.pem"),
        "other-ca": (tmp_path / "other.pem", tmp_path / "other.key"),
    }


def _tls_connect(rig: Rig, credentials: tuple[Path, Path] | None, client_id: str = "victim") -> bytes:
    """TLS handshake + MQTT CONNECT; what the broker sent back (raises on a TLS alert)."""
    context = ssl.create_default_context(cafile=str(rig.ca_path))
    if credentials is not None:
        context.load_cert_chain(str(credentials[0]), str(credentials[1]))
    with socket.create_connection((rig.host, rig.port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall(mqtt311_connect(client_id))
        return tls.recv(16)


@pytest.mark.parametrize("who", ["no-certificate", "self-signed", "other-ca"])
async def test_handshake_refuses_clients_without_a_certificate_from_the_rig_ca(
        rig: Rig, tmp_path: Path, who: str) -> None:
    credentials = _foreign_identities(tmp_path)[who]
    # the broker itself fails the TLS handshake and says why (TLS 1.3 clients may see only a
    # closed socket; mosquitto logs the reason for most attempts, not all: try a few times)
    reason = "peer did not return a certificate" if credentials is None else "certificate verify failed"
    for _ in range(5):
        try:
            reply = await asyncio.to_thread(_tls_connect, rig, credentials)
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
            reply = b""
        assert reply == b"", f"the broker answered {reply!r}"
        with contextlib.suppress(TimeoutError):
            await wait_until(lambda: reason in rig.log_path.read_text(), within=2.0)
            return
    pytest.fail(f"the broker never logged {reason!r}")


def test_handshake_accepts_a_rig_certificate(rig: Rig, tmp_path: Path) -> None:
    identity = RigIdentity("pump-1", rig.issue_identity("pump-1", tmp_path / "pump-1"))
    assert _tls_connect(rig, (identity.cert_path, identity.key_path), "pump-1") == b"\x20\x02\x00\x00"


async def test_awscrt_client_with_foreign_certificate_never_connects(
        rig: Rig, mqtt_client: MqttClientFactory, tmp_path: Path) -> None:
    _foreign_identities(tmp_path)
    directory = tmp_path / "foreign"
    directory.mkdir()
    (directory / "device.cert.pem").write_bytes((tmp_path / "other.pem").read_bytes())
    (directory / "device.key.pem").write_bytes((tmp_path / "other.key").read_bytes())
    client = await mqtt_client(RigIdentity("victim", directory), connect=False)
    client.client.start()
    await asyncio.wait_for(client.connect_failed.wait(), 20)
    assert not client.connected.is_set()
