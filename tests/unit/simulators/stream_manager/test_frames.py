"""The server's frame codec against the ``stream_manager`` SDK's own encoding (UtilInternal.encode_frame,
CBOR of ``as_dict()``), for any operation, payload and request or response fields."""

from __future__ import annotations

import asyncio

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stream_manager.data import (
    AppendMessageRequest,
    Message,
    MessageFrame,
    Operation,
    ReadMessagesOptions,
    ReadMessagesRequest,
    ReadMessagesResponse,
    ResponseStatusCode,
)
from stream_manager.utilinternal import UtilInternal

from simulators.stream_manager.frames import (
    Frame,
    FrameError,
    decode_payload,
    encode_frame,
    encode_message,
    read_frame,
    request_id_of,
)

names = st.from_regex(r"[\w ,.\-]{1,40}", fullmatch=True)
counts = st.none() | st.integers(1, 2**31 - 1)
options = st.builds(ReadMessagesOptions, desired_start_sequence_number=st.none() | st.integers(0, 2**63 - 1),
                    min_message_count=counts, max_message_count=counts,
                    read_timeout_millis=st.none() | st.integers(0, 2**31))


def sdk_bytes(operation: Operation, payload: bytes) -> bytes:
    return b"".join(UtilInternal.encode_frame(MessageFrame(operation=operation, payload=payload)))


async def read_in_chunks(data: bytes, sizes: list[int]) -> list[Frame]:
    reader = asyncio.StreamReader()
    at = 0
    for size in sizes:
        reader.feed_data(data[at:at + size])
        at += size
    reader.feed_data(data[at:])
    reader.feed_eof()
    frames = []
    while not reader.at_eof():
        frames.append(await read_frame(reader))
    return frames


@given(st.sampled_from(list(Operation)), st.binary(max_size=2048))
def test_frames_are_encoded_as_the_sdk_encodes_them(operation: Operation, payload: bytes) -> None:
    assert encode_frame(operation, payload) == sdk_bytes(operation, payload)


@settings(max_examples=50)
@given(st.lists(st.tuples(st.sampled_from(list(Operation)), st.binary(max_size=512)), min_size=1, max_size=5),
       st.lists(st.integers(1, 64), max_size=20))
def test_sdk_frames_are_read_back_whatever_the_chunks(frames: list[tuple[Operation, bytes]],
                                                      chunks: list[int]) -> None:
    data = b"".join(sdk_bytes(op, payload) for op, payload in frames)
    got = asyncio.run(read_in_chunks(data, chunks))
    assert got == [Frame(op.value, payload) for op, payload in frames]


@given(st.uuids().map(str), names, st.binary(max_size=4096))
def test_append_requests_decode_to_what_the_client_sent(request_id: str, name: str, payload: bytes) -> None:
    sent = AppendMessageRequest(request_id=request_id, name=name, payload=payload)
    frame = Frame(Operation.AppendMessage.value, cbor2.dumps(sent.as_dict()))
    assert decode_payload(frame, AppendMessageRequest).as_dict() == sent.as_dict()
    assert request_id_of(frame) == request_id


@given(st.uuids().map(str), names, st.none() | options)
def test_read_requests_decode_to_what_the_client_sent(request_id: str, name: str,
                                                      read_options: ReadMessagesOptions | None) -> None:
    sent = ReadMessagesRequest(request_id=request_id, stream_name=name, read_messages_options=read_options)
    got = decode_payload(Frame(Operation.ReadMessages.value, cbor2.dumps(sent.as_dict())), ReadMessagesRequest)
    assert (got.request_id, got.stream_name) == (request_id, name)
    if read_options is None:
        assert got.read_messages_options is None
    else:  # fields the client left out take the SDK's defaults (min_message_count 1, read_timeout_millis 0)
        expected = {**ReadMessagesOptions().as_dict(), **read_options.as_dict()}
        assert got.read_messages_options.as_dict() == expected


@settings(max_examples=50)
@given(st.uuids().map(str), names,
       st.lists(st.tuples(st.integers(0, 2**62), st.integers(0, 2**42), st.binary(max_size=256)), max_size=5))
def test_read_responses_decode_in_the_client(request_id: str, name: str,
                                             messages: list[tuple[int, int, bytes]]) -> None:
    sent = ReadMessagesResponse(request_id=request_id, status=ResponseStatusCode.Success, messages=[
        Message(stream_name=name, sequence_number=seq, ingest_time=t, payload=p) for seq, t, p in messages])
    data = encode_message(Operation.ReadMessagesResponse, sent)
    (frame,) = asyncio.run(read_in_chunks(data, []))
    assert frame.operation == Operation.ReadMessagesResponse.value
    received = ReadMessagesResponse.from_dict(cbor2.loads(frame.payload))  # as the client's read loop does
    assert received.as_dict() == sent.as_dict()


@pytest.mark.parametrize("payload", [b"\xff\x00", cbor2.dumps([1, 2]), cbor2.dumps("text")])
def test_payloads_that_are_not_the_request_are_frame_errors(payload: bytes) -> None:
    with pytest.raises(FrameError):
        decode_payload(Frame(Operation.AppendMessage.value, payload), AppendMessageRequest)


def test_a_frame_length_out_of_range_is_a_frame_error() -> None:
    with pytest.raises(FrameError, match="length"):
        asyncio.run(read_in_chunks(b"\x00\x00\x00\x00\x04", []))
