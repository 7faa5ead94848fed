"""AWS's own fleet provisioning flow against the rig: the MQTT 5 samples of
aws-iot-device-sdk-python-v2 (``samples/fleet_provisioning_csr.py`` and
``samples/fleet_provisioning_basic.py``), with the same client, builder options, request-response
options and requests; only the endpoint, port and CA are the rig's. Then the CBOR topics, and the
MQTT 5 refusals of the endpoint.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import cbor2
import paho.mqtt.client as paho
import pytest
from awscrt import mqtt5, mqtt_request_response
from awsiot import iotidentity, mqtt5_client_builder
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from cloud.rig import Rig
from provisioning.service.service import ProvisioningService
from provisioning.service.templates import DEFAULT_TEMPLATE_NAME
from tests.fixtures.broker import MqttClientFactory, wait_until

TIMEOUT = 30


def sample_identity_client(service: ProvisioningService, claim_dir: Path) -> tuple[Any, Any, Future[bool]]:
    """The samples' client: MQTT 5, ``test-<uuid>`` client id, clean session, keep-alive 1200 s,
    request-response with 2 subscriptions and 30 s timeout."""
    connected: Future[bool] = Future()
    stopped: Future[bool] = Future()
    client = mqtt5_client_builder.mtls_from_path(
        endpoint=service.host, port=service.port,
        connect_options=mqtt5.ConnectPacket(client_id="test-" + uuid.uuid4().hex),
        cert_filepath=str(claim_dir / "claim.cert.pem"), pri_key_filepath=str(claim_dir / "claim.key.pem"),
        ca_filepath=str(claim_dir / "root-ca.pem"),
        clean_session=True, keep_alive_secs=1200,
        on_lifecycle_connection_success=lambda _: connected.done() or connected.set_result(True),
        on_lifecycle_stopped=lambda _: stopped.set_result(True))
    client.start()
    options = mqtt_request_response.ClientOptions(
        max_request_response_subscriptions=2, max_streaming_subscriptions=0, operation_timeout_in_seconds=30)
    identity = iotidentity.IotIdentityClientV2(client, options)
    connected.result(TIMEOUT)
    return client, identity, stopped


def csr_pem() -> tuple[str, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sample-device")])).sign(key, hashes.SHA256())
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return csr.public_bytes(serialization.Encoding.PEM).decode(), key_pem


def store_identity(directory: Path, thing: str, cert: str, key: bytes) -> Path:
    directory.mkdir()
    (directory / "device.cert.pem").write_text(cert)
    (directory / "device.key.pem").write_bytes(key)
    (directory / "identity.json").write_text(f'{{"thing_name": "{thing}"}}')
    return directory


async def connects_as(rig: Rig, mqtt_client: MqttClientFactory, directory: Path, thing: str, cert: str,
                      key: bytes) -> None:
    """The issued certificate reaches the broker as its thing and may publish its telemetry."""
    device = await mqtt_client(store_identity(directory, thing, cert, key))
    assert await device.publish(f"$aws/rules/edgeferry_telemetry/dt/plant-7/gateway/{thing}/telemetry", b"{}") \
        < 0x80


@pytest.mark.parametrize("variant", ["csr", "create-keys"])
async def test_the_sdk_mqtt5_fleet_provisioning_samples_succeed(
        rig: Rig, service: ProvisioningService, mqtt_client: MqttClientFactory, tmp_path: Path,
        variant: str) -> None:
    claim_dir = service.issue_claim("factory-line-1", tmp_path / "claim")
    serial = f"SDK-{variant}"

    def run_sample() -> tuple[str, str, bytes]:
        client, identity, stopped = sample_identity_client(service, claim_dir)
        try:
            if variant == "csr":
                csr, key = csr_pem()
                created = identity.create_certificate_from_csr(
                    iotidentity.CreateCertificateFromCsrRequest(certificate_signing_request=csr)).result(TIMEOUT)
            else:
                created = identity.create_keys_and_certificate(
                    iotidentity.CreateKeysAndCertificateRequest()).result(TIMEOUT)
                key = created.private_key.encode()
            request = iotidentity.RegisterThingRequest(
                template_name=DEFAULT_TEMPLATE_NAME,
                certificate_ownership_token=created.certificate_ownership_token)
            request.parameters = {"SerialNumber": serial, "Site": "plant-7"}
            registered = identity.register_thing(request).result(TIMEOUT)
            return registered.thing_name, created.certificate_pem, key
        finally:
            client.stop()
            stopped.result(TIMEOUT)

    thing, cert, key = await asyncio.to_thread(run_sample)
    assert thing == f"gateway-{serial}"
    record = service.registry.thing(thing)
    assert record is not None
    assert [c.status for c in record.certificates] == ["ACTIVE"]
    await connects_as(rig, mqtt_client, tmp_path / "device", thing, cert, key)


class PahoV5:
    """A paho-mqtt MQTT 5 claim client on the provisioning endpoint."""

    def __init__(self, service: ProvisioningService, claim_dir: Path) -> None:
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="cbor-" + uuid.uuid4().hex,
                                  protocol=paho.MQTTv5)
        self.client.tls_set(ca_certs=str(claim_dir / "root-ca.pem"), certfile=str(claim_dir / "claim.cert.pem"),
                            keyfile=str(claim_dir / "claim.key.pem"))
        self.messages: dict[str, bytes] = {}
        self.subacks: dict[int, list[int]] = {}
        self.pubacks: dict[int, int] = {}
        self.connected = threading.Event()
        self.client.on_connect = lambda *_a: self.connected.set()
        self.client.on_message = lambda _c, _u, m: self.messages.__setitem__(m.topic, m.payload)
        self.client.on_subscribe = lambda _c, _u, mid, codes, _p: self.subacks.__setitem__(
            mid, [int(c.value) for c in codes])
        self.client.on_publish = lambda _c, _u, mid, rc, _p: self.pubacks.__setitem__(mid, int(rc.value))
        self.client.connect_async(service.host, service.port)  # the endpoint shares this event loop
        self.client.loop_start()

    async def request(self, topic: str, payload: dict[str, Any] | None) -> tuple[str, Any]:
        for suffix in ("/accepted", "/rejected"):
            _, mid = self.client.subscribe(topic + suffix, 1)
            await wait_until(lambda m=mid: m in self.subacks)
        self.client.publish(topic, cbor2.dumps(payload) if payload is not None else b"", qos=1)
        await wait_until(lambda: any(t.startswith(topic + "/") for t in self.messages))
        reply = next(t for t in self.messages if t.startswith(topic + "/"))
        return reply, cbor2.loads(self.messages.pop(reply))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


async def test_cbor_topics_are_served(rig: Rig, service: ProvisioningService, mqtt_client: MqttClientFactory,
                                      tmp_path: Path) -> None:
    claim = PahoV5(service, service.issue_claim("factory-line-1", tmp_path / "claim"))
    try:
        await asyncio.to_thread(claim.connected.wait, TIMEOUT)
        csr, key = csr_pem()
        topic, issued = await claim.request("$aws/certificates/create-from-csr/cbor",
                                            {"certificateSigningRequest": csr})
        assert topic.endswith("/accepted"), issued
        assert set(issued) == {"certificateOwnershipToken", "certificateId", "certificatePem"}
        topic, registered = await claim.request(
            f"$aws/provisioning-templates/{DEFAULT_TEMPLATE_NAME}/provision/cbor",
            {"certificateOwnershipToken": issued["certificateOwnershipToken"],
             "parameters": {"SerialNumber": "CBOR-1", "Site": "plant-7"}})
        assert (topic.endswith("/accepted"), registered["thingName"]) == (True, "gateway-CBOR-1")
        topic, rejected = await claim.request(
            f"$aws/provisioning-templates/{DEFAULT_TEMPLATE_NAME}/provision/cbor", {"parameters": {}})
        assert topic.endswith("/rejected")
        assert (rejected["statusCode"], rejected["errorCode"]) == (400, "InvalidCertificateOwnershipToken")
    finally:
        claim.close()
    await connects_as(rig, mqtt_client, tmp_path / "device", "gateway-CBOR-1", issued["certificatePem"], key)


async def test_mqtt5_claim_refusals_are_reason_codes(service: ProvisioningService, tmp_path: Path) -> None:
    claim = PahoV5(service, service.issue_claim("factory-line-1", tmp_path / "claim"))
    try:
        await asyncio.to_thread(claim.connected.wait, TIMEOUT)
        _, sub = claim.client.subscribe("$aws/certificates/#", 1)
        await wait_until(lambda: sub in claim.subacks)
        assert claim.subacks[sub] == [0x87]
        info = claim.client.publish("dt/plant-7/gateway/x/telemetry", b"{}", qos=1)
        await wait_until(lambda: info.mid in claim.pubacks)
        assert claim.pubacks[info.mid] == 0x87
        assert claim.client.is_connected(), "MQTT 5 refuses the publish, it does not drop the connection"
    finally:
        claim.close()
