"""The rig refuses what IoT Core refuses, the way IoT Core refuses it, for MQTT 5 (awscrt) and
MQTT 3.1.1 (paho-mqtt) clients alike.

References (AWS IoT developer guide): mqtt.md "MQTT reason codes" (CONNACK/PUBACK/SUBACK 0x87
Not authorized) and "AWS IoT differences from MQTT specifications" (client id takeover);
life-cycle-events.md (a client is disconnected with AUTH_ERROR when "authorization failed", and
with CLIENT_ERROR for "a payload that exceeds the payload limit"); limits-iot.md (128 KB payload,
1 CONNECT per second per client id, 500 per second per account, 100 publishes per second per
connection).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from awscrt.mqtt5 import ConnectReasonCode, PubackReasonCode, SubackReasonCode
from cryptography import x509

from cloud.rig import Limits, Rig, RigIdentity
from cloud.rig.rules import CLIENT_ID_PROPERTY, PRINCIPAL_PROPERTY
from cloud.rules.mqtt_attach import MqttAttachment, MqttSettings
from provisioning.aws.export import DEVICE_POLICY_NAME
from provisioning.policy import Principal
from tests.fixtures.broker import MqttClientFactory, MqttTestClient, mqtt311_connect, wait_until

TELEMETRY = "$aws/rules/edgeferry_telemetry/dt/site1/pump/{thing}/telemetry"


def identity(rig: Rig, tmp_path: Path, thing: str) -> RigIdentity:
    return RigIdentity(thing, rig.issue_identity(thing, tmp_path / thing))


class Paho:
    """A paho-mqtt client over mTLS (MQTT 3.1.1 unless told); records CONNACK, SUBACK, PUBACK and
    disconnection. paho checks no packet size limits, so it sends what an attacker would."""

    def __init__(self, rig: Rig, who: RigIdentity, client_id: str, protocol: int = paho.MQTTv311) -> None:
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol)
        self.client.tls_set(ca_certs=str(rig.ca_path), certfile=str(who.cert_path), keyfile=str(who.key_path))
        self.connack: int | None = None
        self.subacks: dict[int, list[int]] = {}
        self.pubacks: set[int] = set()
        self.disconnected = threading.Event()
        self.connected = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda _c, _u, mid, codes, _p: self.subacks.__setitem__(
            mid, [int(c.value) for c in codes])
        self.client.on_publish = lambda _c, _u, mid, _rc, _p: self.pubacks.add(mid)
        self.client.on_disconnect = lambda *_a: self.disconnected.set()
        self.client.connect(rig.host, rig.port, keepalive=60)
        self.client.loop_start()

    def _on_connect(self, _c: object, _u: object, _f: object, reason: paho.ReasonCode, _p: object) -> None:
        self.connack = int(reason.value)
        self.connected.set()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
async def cloud(rig: Rig, mqtt_client: MqttClientFactory) -> MqttTestClient:
    client = await mqtt_client(rig.cloud_identity)
    await client.subscribe("$aws/rules/#", "dt/#")
    return client


# connect ------------------------------------------------------------------------------------------

async def test_a_certificate_cannot_connect_as_another_thing_nor_kick_it_off(
        rig: Rig, mqtt_client: MqttClientFactory, tmp_path: Path) -> None:
    victim = await mqtt_client(identity(rig, tmp_path, "victim"))
    mallory = await mqtt_client(identity(rig, tmp_path, "mallory"), client_id="victim", connect=False)
    mallory.client.start()
    await asyncio.wait_for(mallory.connect_failed.wait(), 20)
    assert mallory.connack_refusals[0] == ConnectReasonCode.NOT_AUTHORIZED
    assert not mallory.connected.is_set()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(victim.disconnected.wait(), 1.0)


async def test_mqtt311_connect_under_a_foreign_client_id_gets_connack_5(rig: Rig, tmp_path: Path) -> None:
    mallory = Paho(rig, identity(rig, tmp_path, "mallory"), "victim")
    try:
        await asyncio.to_thread(mallory.connected.wait, 20)
        assert mallory.connack == 135  # paho maps the 3.1.1 return code 5 to "Not authorized"
    finally:
        mallory.close()


async def test_a_second_connection_with_the_client_id_takes_over(
        rig: Rig, mqtt_client: MqttClientFactory, tmp_path: Path) -> None:
    pump = identity(rig, tmp_path, "pump-1")
    first = await mqtt_client(pump, min_reconnect_delay_ms=30_000, max_reconnect_delay_ms=60_000)
    await asyncio.sleep(1.1)  # the per-client-id connect rate
    await mqtt_client(pump)
    await asyncio.wait_for(first.disconnected.wait(), 20)


def _raw_connect(rig: Rig, who: RigIdentity, client_id: str) -> bytes:
    """TLS + one MQTT 3.1.1 CONNECT; the bytes the broker answered (b"": closed without CONNACK)."""
    context = ssl.create_default_context(cafile=str(rig.ca_path))
    context.load_cert_chain(str(who.cert_path), str(who.key_path))
    with socket.create_connection((rig.host, rig.port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall(mqtt311_connect(client_id))
        try:
            return tls.recv(4)
        except (ConnectionResetError, ssl.SSLError):
            return b""


async def test_connects_beyond_the_rate_per_client_id_are_refused(tmp_path: Path) -> None:
    """IoT Core allows 1 CONNECT per second per client id; a slower rate here keeps the test
    independent of how long a handshake takes on a loaded machine."""
    assert Limits().connect_per_client == 1.0
    async with Rig(tmp_path / "rig", limits=Limits(connect_per_client=0.2)) as rig:
        pump = identity(rig, tmp_path, "pump-2")
        assert await asyncio.to_thread(_raw_connect, rig, pump, "pump-2") == b"\x20\x02\x00\x00"
        assert await asyncio.to_thread(_raw_connect, rig, pump, "pump-2") == b""
        await asyncio.sleep(5.5)
        assert await asyncio.to_thread(_raw_connect, rig, pump, "pump-2") == b"\x20\x02\x00\x00"


async def test_account_wide_connect_rate_is_enforced(tmp_path: Path) -> None:
    assert Limits().connect_per_account == 500.0
    async with Rig(tmp_path / "rig", limits=Limits(connect_per_account=0.2)) as rig:
        things = [identity(rig, tmp_path, f"t-{i}") for i in range(4)]
        replies = [await asyncio.to_thread(_raw_connect, rig, t, t.name) for t in things]
        assert replies[0] == b"\x20\x02\x00\x00"
        assert replies[1:].count(b"") >= 2, replies


# subscribe ----------------------------------------------------------------------------------------

async def test_mqtt311_subscription_outside_the_policy_gets_suback_0x80(rig: Rig, tmp_path: Path) -> None:
    pump = Paho(rig, identity(rig, tmp_path, "pump-3"), "pump-3")
    try:
        await asyncio.to_thread(pump.connected.wait, 20)
        _, denied = pump.client.subscribe([("#", 1), ("cmd/victim/#", 1)])
        _, granted = pump.client.subscribe("cmd/pump-3/#", 1)
        await wait_until(lambda: denied in pump.subacks and granted in pump.subacks)
        assert pump.subacks[denied] == [0x80, 0x80]
        assert pump.subacks[granted] == [1]
    finally:
        pump.close()


async def test_mqtt5_subscription_outside_the_policy_gets_suback_0x87(
        rig: Rig, mqtt_client: MqttClientFactory, tmp_path: Path) -> None:
    pump = await mqtt_client(identity(rig, tmp_path, "pump-4"))
    codes = await pump.subscribe("#", "$aws/rules/#", "cmd/pump-4/#")
    assert codes == [SubackReasonCode.NOT_AUTHORIZED, SubackReasonCode.NOT_AUTHORIZED,
                     SubackReasonCode.GRANTED_QOS_1]


# publish ------------------------------------------------------------------------------------------

async def test_mqtt311_unauthorised_publish_closes_the_connection(
        rig: Rig, cloud: MqttTestClient, tmp_path: Path) -> None:
    pump = Paho(rig, identity(rig, tmp_path, "pump-5"), "pump-5")
    try:
        await asyncio.to_thread(pump.connected.wait, 20)
        ok = pump.client.publish(TELEMETRY.format(thing="pump-5"), b"{}", qos=1)
        await wait_until(lambda: ok.mid in pump.pubacks)
        forged = pump.client.publish(TELEMETRY.format(thing="victim"), b'{"forged":1}', qos=1)
        assert await asyncio.to_thread(pump.disconnected.wait, 20)
        assert forged.mid not in pump.pubacks, "never acknowledged and dropped"
        assert (await cloud.next_message()).topic == TELEMETRY.format(thing="pump-5")
        await cloud.assert_silent(0.5)
    finally:
        pump.close()


@pytest.mark.parametrize("protocol", [paho.MQTTv311, paho.MQTTv5])
@pytest.mark.parametrize("size", [200 * 1024, 1024 * 1024])
async def test_payload_over_128_kib_closes_the_connection(
        rig: Rig, cloud: MqttTestClient, tmp_path: Path, size: int, protocol: int) -> None:
    pump = Paho(rig, identity(rig, tmp_path, "pump-6"), "pump-6", protocol)
    try:
        await asyncio.to_thread(pump.connected.wait, 20)
        largest = pump.client.publish(TELEMETRY.format(thing="pump-6"), b"x" * (128 * 1024), qos=1)
        await wait_until(lambda: largest.mid in pump.pubacks)
        assert len((await cloud.next_message()).payload) == 128 * 1024
        too_big = pump.client.publish(TELEMETRY.format(thing="pump-6"), b"x" * size, qos=1)
        assert await asyncio.to_thread(pump.disconnected.wait, 20)
        assert too_big.mid not in pump.pubacks
        await cloud.assert_silent(0.5)
    finally:
        pump.close()


async def test_publishes_beyond_the_connection_rate_are_dropped(tmp_path: Path) -> None:
    async with Rig(tmp_path / "rig", limits=Limits(publish_per_second=5)) as rig:
        cloud = MqttTestClient(rig, rig.cloud_identity)
        pump = MqttTestClient(rig, identity(rig, tmp_path, "pump-7"))
        try:
            await cloud.start()
            await cloud.subscribe("$aws/rules/#")
            await pump.start()
            started = time.monotonic()
            codes = [await pump.publish(TELEMETRY.format(thing="pump-7"), f'{{"n":{n}}}') for n in range(30)]
            elapsed = time.monotonic() - started
            assert all(c is not None and c < 0x80 for c in codes), "dropped, not refused"
            await asyncio.sleep(0.5)
            delivered = cloud.messages.qsize()
            assert 5 <= delivered <= 5 + 5 * elapsed + 1, (delivered, elapsed)
        finally:
            await pump.stop()
            await cloud.stop()


# who published -------------------------------------------------------------------------------------

async def test_messages_carry_the_publishers_client_id_and_certificate_id_not_what_it_claims(
        rig: Rig, mqtt_client: MqttClientFactory, cloud: MqttTestClient, tmp_path: Path) -> None:
    who = identity(rig, tmp_path, "pump-8")
    pump = await mqtt_client(who)
    forged = ((CLIENT_ID_PROPERTY, "victim"), (PRINCIPAL_PROPERTY, "0" * 64), ("site", "s1"))
    assert await pump.publish(TELEMETRY.format(thing="pump-8"), b"{}", user_properties=forged) == 0
    message = await cloud.next_message()
    assert sorted(message.user_properties) == sorted(
        [(CLIENT_ID_PROPERTY, "pump-8"), (PRINCIPAL_PROPERTY, who.certificate_id), ("site", "s1")])


async def test_rules_runner_attachment_sees_clientid_and_principal(
        rig: Rig, mqtt_client: MqttClientFactory, tmp_path: Path) -> None:
    who = identity(rig, tmp_path, "pump-9")
    seen: asyncio.Queue[tuple[str | None, str | None]] = asyncio.Queue()

    async def handle(topic: str, payload: bytes, *, clientid: str | None, principal: str | None) -> None:
        await seen.put((clientid, principal))

    cloud = rig.cloud_identity
    attachment = MqttAttachment(MqttSettings(rig.host, rig.port, rig.ca_path, cloud.cert_path, cloud.key_path,
                                             client_id="runner-test"), handle, [])
    await attachment.start()
    try:
        pump = await mqtt_client(who)
        assert await pump.publish(TELEMETRY.format(thing="pump-9"), b"{}") == 0
        assert await asyncio.wait_for(seen.get(), 20) == ("pump-9", who.certificate_id)
    finally:
        await attachment.stop()


# revocation ---------------------------------------------------------------------------------------

async def test_revocation_cuts_every_connection_of_the_certificate_within_5_s(
        rig: Rig, mqtt_client: MqttClientFactory, tmp_path: Path) -> None:
    """One certificate attached to two things, connected as both; revoked: both gone, no way back."""
    shared = identity(rig, tmp_path, "pump-a")
    cert_id = shared.certificate_id
    principal = Principal(cert_id, (DEVICE_POLICY_NAME,), ("pump-a", "pump-b"))
    rig.authorization.principals[cert_id] = principal
    rig.reload()
    slow = {"min_reconnect_delay_ms": 500, "max_reconnect_delay_ms": 1000}
    a = await mqtt_client(shared, **slow)
    b = await mqtt_client(shared, client_id="pump-b", **slow)

    serial = x509.load_pem_x509_certificate(shared.cert_path.read_bytes()).serial_number
    rig.crl_path.write_bytes(rig.ca.revocation_list([serial]))
    rig.authorization.principals[cert_id] = Principal(cert_id, principal.policies, principal.things, "REVOKED")
    started = time.monotonic()
    rig.reload()
    await asyncio.wait_for(asyncio.gather(a.disconnected.wait(), b.disconnected.wait()), 5.0)
    assert time.monotonic() - started < 5.0
    a.connect_failed.clear()
    await asyncio.wait_for(a.connect_failed.wait(), 20)  # the next handshake fails (CRL)
    await asyncio.sleep(1.0)
    assert not a.connected.is_set()
    assert not b.connected.is_set()


# persistent sessions ------------------------------------------------------------------------------

@pytest.mark.parametrize("restart", [False, True])
async def test_an_offline_persistent_session_still_receives_what_its_policy_allows(
        rig: Rig, mqtt_client: MqttClientFactory, tmp_path: Path, restart: bool) -> None:
    """Queued for the cloud side while it is away (and across a broker restart), as IoT Core keeps
    a persistent session's messages: authorised by the session's certificate, not its connection."""
    received: asyncio.Queue[str] = asyncio.Queue()

    async def handle(topic: str, payload: bytes, *, clientid: str | None, principal: str | None) -> None:
        await received.put(topic)

    cloud = rig.cloud_identity
    settings = MqttSettings(rig.host, rig.port, rig.ca_path, cloud.cert_path, cloud.key_path,
                            client_id="persistent-cloud")
    first = MqttAttachment(settings, handle, [])
    await first.start()
    await first.stop()
    if restart:
        await asyncio.to_thread(rig.restart)
    pump = await mqtt_client(identity(rig, tmp_path, "pump-10"))
    assert await pump.publish(TELEMETRY.format(thing="pump-10"), b"{}") == PubackReasonCode.SUCCESS
    again = MqttAttachment(settings, handle, [])
    await again.start()
    try:
        assert await asyncio.wait_for(received.get(), 20) == TELEMETRY.format(thing="pump-10")
    finally:
        await again.stop()
