"""MQTT 3.1.1 and 5 control packets (OASIS MQTT 3.1.1 and 5.0, section 3), server side: decode what
a client sends, encode what the server answers. Only QoS 0 and 1; no wills are honoured, no
retained messages kept: the provisioning endpoint is a request/reply service, not a broker.

MQTT 5 differs here only by properties (read past on the way in, none sent out) and reason codes:
a refused subscription is 0x87 Not authorized (0x80 Failure in 3.1.1), a refused publish gets
PUBACK 0x87 (3.1.1 has no such code: the connection is closed instead).
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass

CONNECT, CONNACK, PUBLISH, PUBACK = 1, 2, 3, 4
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK = 8, 9, 10, 11
PINGREQ, PINGRESP, DISCONNECT = 12, 13, 14
PROTOCOL_LEVEL_311 = 4
PROTOCOL_LEVEL_5 = 5
CONNACK_ACCEPTED = 0
CONNACK_BAD_PROTOCOL = 1
SUBACK_FAILURE = 0x80
NOT_AUTHORIZED = 0x87
"""MQTT 5 reason code for a refused SUBSCRIBE or PUBLISH."""
MAX_PACKET = 128 * 1024
"""IoT Core's payload limit; nothing in the provisioning API comes near it."""


class ProtocolError(ValueError):
    """The client broke the protocol; the server closes the connection (MQTT 3.1.1, 4.8)."""


@dataclass(frozen=True, slots=True)
class Packet:
    kind: int
    flags: int
    body: bytes


@dataclass(frozen=True, slots=True)
class Connect:
    protocol_level: int
    client_id: str
    keep_alive: int
    clean_session: bool


@dataclass(frozen=True, slots=True)
class Publish:
    topic: str
    payload: bytes
    qos: int
    packet_id: int | None


@dataclass(frozen=True, slots=True)
class Subscribe:
    packet_id: int
    filters: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    packet_id: int
    filters: tuple[str, ...]


async def read_packet(reader: asyncio.StreamReader) -> Packet:
    """Read one control packet; IncompleteReadError at end of stream."""
    first = (await reader.readexactly(1))[0]
    length, multiplier = 0, 1
    for _ in range(4):
        byte = (await reader.readexactly(1))[0]
        length += (byte & 0x7F) * multiplier
        if not byte & 0x80:
            break
        multiplier *= 128
    else:
        raise ProtocolError("malformed remaining length")
    if length > MAX_PACKET:
        raise ProtocolError(f"packet of {length} bytes is too large")
    return Packet(first >> 4, first & 0x0F, await reader.readexactly(length))


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def u8(self) -> int:
        return self._take(1)[0]

    def u16(self) -> int:
        value: int = struct.unpack(">H", self._take(2))[0]
        return value

    def text(self) -> str:
        try:
            return self._take(self.u16()).decode()
        except UnicodeDecodeError:
            raise ProtocolError("invalid UTF-8 string") from None

    def binary(self) -> bytes:
        return self._take(self.u16())

    def varint(self) -> int:
        value, multiplier = 0, 1
        for _ in range(4):
            byte = self.u8()
            value += (byte & 0x7F) * multiplier
            if not byte & 0x80:
                return value
            multiplier *= 128
        raise ProtocolError("malformed variable byte integer")

    def skip_properties(self) -> None:
        """Read past an MQTT 5 property list."""
        self._take(self.varint())

    def rest(self) -> bytes:
        data, self.at = self.data[self.at:], len(self.data)
        return data

    def more(self) -> bool:
        return self.at < len(self.data)

    def _take(self, n: int) -> bytes:
        if self.at + n > len(self.data):
            raise ProtocolError("packet shorter than its fields")
        data = self.data[self.at:self.at + n]
        self.at += n
        return data


def decode_connect(packet: Packet) -> Connect:
    cursor = _Cursor(packet.body)
    if cursor.text() != "MQTT":
        raise ProtocolError("not an MQTT CONNECT")
    level, flags, keep_alive = cursor.u8(), cursor.u8(), cursor.u16()
    if level not in (PROTOCOL_LEVEL_311, PROTOCOL_LEVEL_5):
        return Connect(level, "", keep_alive, True)
    if level == PROTOCOL_LEVEL_5:
        cursor.skip_properties()
    client_id = cursor.text()
    if flags & 0x04:  # will properties, topic and message: read past them
        if level == PROTOCOL_LEVEL_5:
            cursor.skip_properties()
        cursor.text()
        cursor.binary()
    return Connect(level, client_id, keep_alive, bool(flags & 0x02))


def decode_publish(packet: Packet, v5: bool = False) -> Publish:
    qos = (packet.flags >> 1) & 0x03
    if qos > 1:
        raise ProtocolError("QoS 2 is not supported (neither by IoT Core)")
    cursor = _Cursor(packet.body)
    topic = cursor.text()
    packet_id = cursor.u16() if qos else None
    if v5:
        cursor.skip_properties()
    return Publish(topic, cursor.rest(), qos, packet_id)


def decode_subscribe(packet: Packet, v5: bool = False) -> Subscribe:
    cursor = _Cursor(packet.body)
    packet_id = cursor.u16()
    if v5:
        cursor.skip_properties()
    filters: list[tuple[str, int]] = []
    while cursor.more():
        filters.append((cursor.text(), cursor.u8() & 0x03))
    if not filters:
        raise ProtocolError("SUBSCRIBE without topic filters")
    return Subscribe(packet_id, tuple(filters))


def decode_unsubscribe(packet: Packet, v5: bool = False) -> Unsubscribe:
    cursor = _Cursor(packet.body)
    packet_id = cursor.u16()
    if v5:
        cursor.skip_properties()
    filters: list[str] = []
    while cursor.more():
        filters.append(cursor.text())
    return Unsubscribe(packet_id, tuple(filters))


def _frame(kind: int, flags: int, body: bytes) -> bytes:
    length, encoded = len(body), bytearray()
    while True:
        byte, length = length % 128, length // 128
        encoded.append(byte | (0x80 if length else 0))
        if not length:
            break
    return bytes([kind << 4 | flags]) + bytes(encoded) + body


def _text(value: str) -> bytes:
    data = value.encode()
    return struct.pack(">H", len(data)) + data


NO_PROPERTIES = b"\x00"


def connack(return_code: int, v5: bool = False) -> bytes:
    return _frame(CONNACK, 0, bytes([0, return_code]) + (NO_PROPERTIES if v5 else b""))


def puback(packet_id: int, reason: int = 0) -> bytes:
    """PUBACK; a non-zero ``reason`` only under MQTT 5 (a success may omit it in either version)."""
    return _frame(PUBACK, 0, struct.pack(">H", packet_id) + (bytes([reason]) + NO_PROPERTIES if reason else b""))


def suback(packet_id: int, codes: list[int], v5: bool = False) -> bytes:
    return _frame(SUBACK, 0, struct.pack(">H", packet_id) + (NO_PROPERTIES if v5 else b"") + bytes(codes))


def unsuback(packet_id: int, filters: int = 0, v5: bool = False) -> bytes:
    """UNSUBACK; under MQTT 5 with one success code per topic filter."""
    codes = NO_PROPERTIES + bytes(filters) if v5 else b""
    return _frame(UNSUBACK, 0, struct.pack(">H", packet_id) + codes)


def pingresp() -> bytes:
    return _frame(PINGRESP, 0, b"")


def publish(topic: str, payload: bytes, packet_id: int | None, v5: bool = False) -> bytes:
    """A PUBLISH at QoS 1 with ``packet_id``, or QoS 0 without."""
    header = _text(topic) + (struct.pack(">H", packet_id) if packet_id is not None else b"")
    header += NO_PROPERTIES if v5 else b""
    return _frame(PUBLISH, 0x02 if packet_id is not None else 0, header + payload)
