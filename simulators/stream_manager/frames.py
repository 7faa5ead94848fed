"""The Stream Manager wire format, as the ``stream_manager`` SDK (1.1) speaks it on its socket.

A connection opens with one byte, the connect version (1), from each side. Then both sides send
frames: a 4-byte big-endian signed length (the payload's length plus one), one operation byte
(``stream_manager.data.Operation``), and the payload: the CBOR encoding of the request or
response object's ``as_dict()`` (camelCase keys, enums as their values). Requests carry a
``requestId`` that the response echoes, so one connection carries many requests at once.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass
from typing import Any, Final

import cbor2
from stream_manager.data import (
    AppendMessageRequest,
    AppendMessageResponse,
    CreateMessageStreamRequest,
    CreateMessageStreamResponse,
    DeleteMessageStreamRequest,
    DeleteMessageStreamResponse,
    DescribeMessageStreamRequest,
    DescribeMessageStreamResponse,
    ListStreamsRequest,
    ListStreamsResponse,
    Operation,
    ReadMessagesRequest,
    ReadMessagesResponse,
    UpdateMessageStreamRequest,
    UpdateMessageStreamResponse,
)

CONNECT_VERSION: Final = 1
MAX_FRAME: Final = 1 << 30
"""The SDK refuses to send a frame longer than this (``UtilInternal._MAX_PACKET_SIZE``)."""
_HEADER = struct.Struct(">iB")

REQUESTS: Final[dict[Operation, tuple[type[Any], type[Any], Operation]]] = {
    Operation.CreateMessageStream: (CreateMessageStreamRequest, CreateMessageStreamResponse,
                                    Operation.CreateMessageStreamResponse),
    Operation.UpdateMessageStream: (UpdateMessageStreamRequest, UpdateMessageStreamResponse,
                                    Operation.UpdateMessageStreamResponse),
    Operation.DeleteMessageStream: (DeleteMessageStreamRequest, DeleteMessageStreamResponse,
                                    Operation.DeleteMessageStreamResponse),
    Operation.DescribeMessageStream: (DescribeMessageStreamRequest, DescribeMessageStreamResponse,
                                      Operation.DescribeMessageStreamResponse),
    Operation.AppendMessage: (AppendMessageRequest, AppendMessageResponse, Operation.AppendMessageResponse),
    Operation.ReadMessages: (ReadMessagesRequest, ReadMessagesResponse, Operation.ReadMessagesResponse),
    Operation.ListStreams: (ListStreamsRequest, ListStreamsResponse, Operation.ListStreamsResponse),
}
"""Per request operation: the request class, the response class and the response operation."""


class FrameError(Exception):
    """Bytes that are not a frame: the connection cannot continue."""


@dataclass(frozen=True, slots=True)
class Frame:
    operation: int
    """The operation byte (an ``Operation`` value, or one this server does not know)."""
    payload: bytes


def encode_frame(operation: Operation, payload: bytes) -> bytes:
    return _HEADER.pack(len(payload) + 1, operation.value) + payload


def encode_message(operation: Operation, message: Any) -> bytes:
    """A frame carrying one of the SDK's data objects."""
    return encode_frame(operation, cbor2.dumps(message.as_dict()))


async def read_frame(reader: asyncio.StreamReader) -> Frame:
    """The next frame; ``asyncio.IncompleteReadError`` at the end of the stream."""
    length, operation = _HEADER.unpack(await reader.readexactly(_HEADER.size))
    if not 1 <= length <= MAX_FRAME:
        raise FrameError(f"frame length {length} is out of range")
    return Frame(operation, await reader.readexactly(length - 1))


def decode_payload(frame: Frame, cls: type[Any]) -> Any:
    """The frame's payload as an instance of the SDK data class ``cls``."""
    try:
        fields = cbor2.loads(frame.payload)
    except (cbor2.CBORDecodeError, ValueError) as exc:
        raise FrameError(f"payload is not CBOR: {exc}") from None
    if not isinstance(fields, dict):
        raise FrameError("payload is not a CBOR map")
    try:
        return cls.from_dict(fields)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise FrameError(f"payload is not a {cls.__name__}: {exc}") from None


def request_id_of(frame: Frame) -> str | None:
    """The ``requestId`` of a frame whose operation is unknown, if it has one."""
    try:
        fields = cbor2.loads(frame.payload)
    except (cbor2.CBORDecodeError, ValueError):
        return None
    request_id = fields.get("requestId") if isinstance(fields, dict) else None
    return request_id if isinstance(request_id, str) else None
