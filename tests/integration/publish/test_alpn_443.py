"""The agent on port 443 offers ALPN ``x-amzn-mqtt-ca``: refused by a broker without that protocol,
delivered by one with it (an ALPN gate in front of the rig; see tests/fixtures/links.py for exactly
what Mosquitto can and cannot do here)."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloud.rig import Rig
from edge_agent.envelope import decode_batch
from edge_agent.publish.connection import ConnectionState
from edge_agent.publish.mqtt import MqttSink
from tests.fixtures.broker import MqttTestClient, wait_until
from tests.fixtures.links import TLS_PORT, GateFactory, offered_alpn
from tests.integration.publish.test_mqtt_sink import cloud, device_identity, make_batch, sink_config

__all__ = ["cloud"]

IOT_CORE_MQTT_ALPN = "x-amzn-mqtt-ca"


@pytest.mark.parametrize("protocol", ["mqtt5", "mqtt311"])
async def test_port_443_with_alpn_publishes(rig: Rig, cloud: MqttTestClient, alpn_gate: GateFactory,
                                            tmp_path: Path, protocol: str) -> None:
    gate = await alpn_gate((rig.host, rig.port), {IOT_CORE_MQTT_ALPN})
    config = sink_config(rig, endpoint="127.0.0.1", port=TLS_PORT, protocol=protocol)
    async with MqttSink(config, device_identity(rig, tmp_path)) as sink:
        await sink.wait_connected(30)
        await sink.send(make_batch(1))
        message = await cloud.next_message()
    assert decode_batch(message.payload).seq == 1
    assert gate.offers
    assert all(offer == [IOT_CORE_MQTT_ALPN] for offer in gate.offers)
    assert gate.forwarded == len(gate.offers)


async def test_broker_without_the_protocol_refuses(rig: Rig, alpn_gate: GateFactory, tmp_path: Path) -> None:
    # a port-443 server that speaks only HTTPS, as a plain web proxy or server would
    gate = await alpn_gate((rig.host, rig.port), {"http/1.1"})
    config = sink_config(rig, endpoint="127.0.0.1", port=TLS_PORT)
    async with MqttSink(config, device_identity(rig, tmp_path)) as sink:
        await wait_until(lambda: sink.counters.get("connect_failures") >= 2, within=30)
        assert sink.state is not ConnectionState.CONNECTED
    assert gate.offers[0] == [IOT_CORE_MQTT_ALPN]
    assert gate.forwarded == 0


@given(st.lists(st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=20),
                max_size=5, unique=True))
def test_the_gate_reads_the_alpn_list_of_any_client_hello(protocols: list[str]) -> None:
    """The gate's ClientHello parser against the ClientHellos Python's own TLS client writes."""
    context = ssl.create_default_context()
    if protocols:
        context.set_alpn_protocols(protocols)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = context.wrap_bio(incoming, outgoing, server_hostname="iot.example")
    with pytest.raises(ssl.SSLWantReadError):
        client.do_handshake()
    assert offered_alpn(outgoing.read()) == protocols
