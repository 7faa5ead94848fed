"""The endpoint's MQTT 3.1.1 codec: frames round-trip, topic filters match as the spec says."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provisioning.service.mqtt import packets

TOPIC_LEVEL = st.text(alphabet="abc$-_", min_size=0, max_size=4)
TOPIC = st.lists(TOPIC_LEVEL, min_size=1, max_size=5).map("/".join)


async def _read(data: bytes) -> packets.Packet:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return await packets.read_packet(reader)


@given(topic=TOPIC.filter(bool), payload=st.binary(max_size=20_000),
       packet_id=st.one_of(st.none(), st.integers(1, 0xFFFF)))
def test_publish_round_trips(topic: str, payload: bytes, packet_id: int | None) -> None:
    packet = asyncio.run(_read(packets.publish(topic, payload, packet_id)))
    assert packet.kind == packets.PUBLISH
    decoded = packets.decode_publish(packet)
    assert (decoded.topic, decoded.payload, decoded.packet_id) == (topic, payload, packet_id)
    assert decoded.qos == (1 if packet_id is not None else 0)


def _connect(level: int, client_id: str, keep_alive: int, properties: bytes = b"") -> bytes:
    body = b"\x00\x04MQTT" + bytes([level, 0x02]) + keep_alive.to_bytes(2, "big") + properties
    body += len(client_id).to_bytes(2, "big") + client_id.encode()
    return bytes([0x10, len(body)]) + body


async def test_connect_is_decoded() -> None:
    connect = packets.decode_connect(await _read(_connect(4, "dev-1", 60)))
    assert (connect.protocol_level, connect.client_id, connect.keep_alive, connect.clean_session) == (
        4, "dev-1", 60, True)
    # MQTT 5: a property list (here Session Expiry Interval 0x11 = 60) before the client id
    v5 = packets.decode_connect(await _read(_connect(5, "x", 0, b"\x05\x11\x00\x00\x00\x3c")))
    assert (v5.protocol_level, v5.client_id) == (5, "x")
    assert packets.decode_connect(await _read(_connect(3, "x", 0))).protocol_level == 3


async def test_mqtt5_publish_and_subscribe_skip_their_properties() -> None:
    body = b"\x00\x03a/b" + b"\x00\x09" + b"\x02\x01\x01" + b"{}"
    assert packets.decode_publish(await _read(bytes([0x32, len(body)]) + body), v5=True) == packets.Publish(
        "a/b", b"{}", 1, 9)
    body = b"\x00\x07" + b"\x00" + b"\x00\x03a/b\x01"
    assert packets.decode_subscribe(await _read(bytes([0x82, len(body)]) + body), v5=True) == packets.Subscribe(
        7, (("a/b", 1),))
    assert packets.suback(7, [0x87], v5=True) == b"\x90\x04\x00\x07\x00\x87"
    assert packets.puback(9, packets.NOT_AUTHORIZED) == b"\x40\x04\x00\x09\x87\x00"


async def test_subscribe_is_decoded() -> None:
    body = b"\x00\x07" + b"\x00\x03a/b\x01" + b"\x00\x01#\x00"
    subscribe = packets.decode_subscribe(await _read(bytes([0x82, len(body)]) + body))
    assert subscribe == packets.Subscribe(7, (("a/b", 1), ("#", 0)))


async def test_truncated_and_oversized_packets_are_protocol_errors() -> None:
    with pytest.raises(packets.ProtocolError):
        packets.decode_subscribe(await _read(b"\x82\x03\x00\x07\x00"))
    with pytest.raises(packets.ProtocolError):
        await _read(b"\x30\xff\xff\xff\x7f")
    with pytest.raises(packets.ProtocolError):
        packets.decode_publish(await _read(b"\x34\x02\x00\x00"))  # QoS 2
