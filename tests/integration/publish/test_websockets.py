"""The agent over MQTT over WebSocket Secure: custom authorizer and SigV4 (credentials from a role
alias through the IoT credentials provider); a custom authorizer over direct MQTT on 443; WebSockets
and certificate links through an HTTP proxy. What the broker side checks is described in
tests/fixtures/wss.py."""

from __future__ import annotations

import asyncio
import queue
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import SecretStr

from cloud.rig import Rig
from edge_agent.envelope import decode_batch
from edge_agent.identity import Identity
from edge_agent.publish.config import CustomAuthorizerAuth, HttpProxy, MqttPublishConfig, SigV4Auth
from edge_agent.publish.mqtt import MqttSink
from tests.fixtures.broker import MqttClientFactory, wait_until
from tests.fixtures.links import TLS_PORT, ConnectProxy, GateFactory
from tests.fixtures.wss import CredentialsEndpoint, SigV4Front, WssBroker
from tests.integration.publish.test_mqtt_sink import device_identity, make_batch, sink_config

REGION = "eu-west-1"
ROLE_ALIAS = "edgeferry-telemetry"


@pytest.fixture
def observer(wss_broker: WssBroker) -> Iterator[queue.Queue[paho.MQTTMessage]]:
    """Messages published on the WebSockets broker, seen by a plain MQTT subscriber."""
    received: queue.Queue[paho.MQTTMessage] = queue.Queue()
    client = paho.Client(CallbackAPIVersion.VERSION2)
    client.on_message = lambda _c, _u, message: received.put(message)
    client.connect("127.0.0.1", wss_broker.mqtt_port)
    client.subscribe([("$aws/rules/#", 1), ("dt/#", 1)])
    client.loop_start()
    yield received
    client.loop_stop()
    client.disconnect()


def authorizer(broker: WssBroker, password: str | None = None) -> CustomAuthorizerAuth:
    user, _, query = broker.username.partition("?")
    params = dict(p.split("=", 1) for p in query.split("&"))
    return CustomAuthorizerAuth(
        type="custom_authorizer", username=user, authorizer=params["x-amz-customauthorizer-name"],
        token_key_name="token", token=SecretStr(params["token"]),
        password=SecretStr(password or broker.password))


async def delivered(config: MqttPublishConfig, identity: Identity,
                    observer: queue.Queue[paho.MQTTMessage]) -> int:
    """Connect, send one batch, and return its seq as the observer received it."""
    async with MqttSink(config, identity) as sink:
        await sink.wait_connected(30)
        await sink.send(make_batch(7))
    message = await asyncio.to_thread(observer.get, True, 20)
    return decode_batch(message.payload).seq


@pytest.mark.parametrize("protocol", ["mqtt5", "mqtt311"])
async def test_custom_authorizer_over_websockets(rig: Rig, wss_broker: WssBroker, tmp_path: Path,
                                                 observer: queue.Queue[paho.MQTTMessage], protocol: str) -> None:
    config = sink_config(rig, port=wss_broker.wss_port, protocol=protocol, transport="websockets",
                         auth=authorizer(wss_broker))
    assert await delivered(config, device_identity(rig, tmp_path), observer) == 7


@pytest.mark.parametrize("protocol", ["mqtt5", "mqtt311"])
async def test_custom_authorizer_over_mqtt_on_443_offers_alpn_mqtt(
        rig: Rig, wss_broker: WssBroker, alpn_gate: GateFactory, tmp_path: Path,
        observer: queue.Queue[paho.MQTTMessage], protocol: str) -> None:
    gate = await alpn_gate(("127.0.0.1", wss_broker.mqtts_port), {"mqtt"})
    config = sink_config(rig, endpoint="127.0.0.1", port=TLS_PORT, protocol=protocol,
                         auth=authorizer(wss_broker))
    assert await delivered(config, device_identity(rig, tmp_path), observer) == 7
    assert gate.offers[0] == ["mqtt"]


async def test_custom_authorizer_refuses_a_wrong_password(rig: Rig, wss_broker: WssBroker, tmp_path: Path) -> None:
    config = sink_config(rig, port=wss_broker.wss_port, transport="websockets",
                         auth=authorizer(wss_broker, password="not-the-password"))
    async with MqttSink(config, device_identity(rig, tmp_path)) as sink:
        await wait_until(lambda: sink.counters.get("connect_failures") >= 1, within=30)
        assert not sink.connected
        assert sink.counters.snapshot()["link_problem"] == "refused by broker"


@pytest.mark.parametrize("protocol", ["mqtt5", "mqtt311"])
async def test_websockets_through_an_http_proxy(rig: Rig, wss_broker: WssBroker, tmp_path: Path,
                                                connect_proxy: ConnectProxy,
                                                observer: queue.Queue[paho.MQTTMessage], protocol: str) -> None:
    config = sink_config(rig, port=wss_broker.wss_port, transport="websockets", auth=authorizer(wss_broker),
                         protocol=protocol, proxy=HttpProxy(host="127.0.0.1", port=connect_proxy.port))
    assert await delivered(config, device_identity(rig, tmp_path), observer) == 7
    assert f"{rig.host}:{wss_broker.wss_port}" in connect_proxy.targets


async def test_certificate_link_through_an_http_proxy(rig: Rig, connect_proxy: ConnectProxy, tmp_path: Path,
                                                      mqtt_client: MqttClientFactory) -> None:
    cloud = await mqtt_client(rig.cloud_identity)
    await cloud.subscribe("$aws/rules/#")
    config = sink_config(rig, proxy=HttpProxy(host="127.0.0.1", port=connect_proxy.port))
    async with MqttSink(config, device_identity(rig, tmp_path)) as sink:
        await sink.wait_connected(30)
        await sink.send(make_batch(3))
        assert decode_batch((await cloud.next_message()).payload).seq == 3
    assert connect_proxy.targets == [f"{rig.host}:{rig.port}"]


@pytest.fixture
async def sigv4_front(rig: Rig, wss_broker: WssBroker) -> AsyncIterator[SigV4Front]:
    endpoint = CredentialsEndpoint(rig, ROLE_ALIAS)
    try:
        await endpoint.start(port=TLS_PORT)
    except OSError as exc:
        pytest.skip(f"127.0.0.1:{TLS_PORT} is not available here ({exc.strerror})")
    front = SigV4Front(rig, wss_broker.ws_port, endpoint, REGION)
    await front.start()
    yield front
    await front.stop()
    await endpoint.stop()


@pytest.mark.parametrize("protocol", ["mqtt5", "mqtt311"])
async def test_sigv4_with_role_alias_credentials(rig: Rig, sigv4_front: SigV4Front, tmp_path: Path,
                                                 observer: queue.Queue[paho.MQTTMessage], protocol: str) -> None:
    config = sink_config(rig, port=sigv4_front.port, protocol=protocol, transport="websockets",
                         auth=SigV4Auth(type="sigv4", region=REGION, role_alias=ROLE_ALIAS,
                                        credentials_endpoint="127.0.0.1"))
    assert await delivered(config, device_identity(rig, tmp_path), observer) == 7
    assert sigv4_front.endpoint.requests[0] == (f"/role-aliases/{ROLE_ALIAS}/credentials", "pump-1")
    assert sigv4_front.verdicts
    assert all(sigv4_front.verdicts)


async def test_sigv4_signed_for_another_region_is_refused(rig: Rig, sigv4_front: SigV4Front,
                                                          tmp_path: Path) -> None:
    config = sink_config(rig, port=sigv4_front.port, transport="websockets",
                         auth=SigV4Auth(type="sigv4", region="us-east-1", role_alias=ROLE_ALIAS,
                                        credentials_endpoint="127.0.0.1"))
    async with MqttSink(config, device_identity(rig, tmp_path)) as sink:
        await wait_until(lambda: sink.counters.get("connect_failures") >= 1, within=30)
        assert not sink.connected
        assert sink.counters.snapshot()["link_problem"] == "WebSocket refused"
    assert sigv4_front.verdicts
    assert not any(sigv4_front.verdicts)


async def test_sigv4_without_credentials_says_so(rig: Rig, sigv4_front: SigV4Front, tmp_path: Path) -> None:
    config = sink_config(rig, port=sigv4_front.port, transport="websockets",
                         auth=SigV4Auth(type="sigv4", region=REGION, role_alias="not-this-alias",
                                        credentials_endpoint="127.0.0.1"))
    async with MqttSink(config, device_identity(rig, tmp_path)) as sink:
        await wait_until(lambda: sink.counters.get("connect_failures") >= 1, within=30)
        assert sink.counters.snapshot()["link_problem"] == "no credentials"
    assert sigv4_front.endpoint.requests[0] == ("/role-aliases/not-this-alias/credentials", "pump-1")
    assert not sigv4_front.verdicts, "nothing unsigned reached the broker's front"


async def test_sigv4_through_an_http_proxy_fetches_credentials_through_it_too(
        rig: Rig, sigv4_front: SigV4Front, connect_proxy: ConnectProxy, tmp_path: Path,
        observer: queue.Queue[paho.MQTTMessage]) -> None:
    config = sink_config(rig, port=sigv4_front.port, transport="websockets",
                         auth=SigV4Auth(type="sigv4", region=REGION, role_alias=ROLE_ALIAS,
                                        credentials_endpoint="127.0.0.1"),
                         proxy=HttpProxy(host="127.0.0.1", port=connect_proxy.port))
    assert await delivered(config, device_identity(rig, tmp_path), observer) == 7
    assert f"127.0.0.1:{TLS_PORT}" in connect_proxy.targets  # the credentials provider
    assert f"{rig.host}:{sigv4_front.port}" in connect_proxy.targets  # the WebSocket
