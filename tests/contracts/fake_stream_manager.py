"""An in-process stand-in for the Greengrass Stream Manager server and its Python client.

``FakeStreamManagerClient`` has the SDK client's methods, arguments, return types and
exceptions (``stream_manager`` 1.1): validation with the SDK's own rules, sequence numbers from
0, ``read_messages`` starting at the oldest message when asked for an older one, raising
``NotEnoughMessagesException`` when fewer than ``min_message_count`` are available, and
``OverwriteOldestData`` / ``RejectNewData`` deleting or refusing whole segments of
``stream_segment_size`` bytes. The streams live in a ``FakeStreamManagerServer``, which outlives
clients: a new client on the same server is a restart of the component using it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from stream_manager import (
    InvalidRequestException,
    MessageStreamDefinition,
    NotEnoughMessagesException,
    ReadMessagesOptions,
    ResourceNotFoundException,
    StrategyOnFull,
    StreamManagerException,
    ValidationException,
)
from stream_manager.data import Message, MessageStreamInfo
from stream_manager.utilinternal import UtilInternal


@dataclass
class _Stream:
    definition: MessageStreamDefinition
    segments: list[list[Message]] = field(default_factory=lambda: [[]])
    next_seq: int = 0

    def size(self) -> int:
        return sum(len(m.payload) for segment in self.segments for m in segment)

    def messages(self) -> list[Message]:
        return [m for segment in self.segments for m in segment]


class FakeStreamManagerServer:
    """The streams (Stream Manager's disk); ``append_failures`` makes the next appends fail."""

    def __init__(self) -> None:
        self.streams: dict[str, _Stream] = {}
        self.lock = threading.Condition()
        self.append_failures = 0

    def client(self) -> FakeStreamManagerClient:
        return FakeStreamManagerClient(self)


class FakeStreamManagerClient:
    """Same public methods as ``stream_manager.StreamManagerClient``."""

    def __init__(self, server: FakeStreamManagerServer) -> None:
        self._server = server
        self._closed = False

    def create_message_stream(self, definition: MessageStreamDefinition) -> None:
        self._check(definition, MessageStreamDefinition)
        with self._server.lock:
            if definition.name in self._server.streams:
                raise InvalidRequestException(f"stream {definition.name} already exists")
            self._server.streams[definition.name] = _Stream(definition)

    def update_message_stream(self, definition: MessageStreamDefinition) -> None:
        self._check(definition, MessageStreamDefinition)
        with self._server.lock:
            self._stream(definition.name).definition = definition

    def delete_message_stream(self, stream_name: str) -> None:
        self._check_open()
        with self._server.lock:
            self._stream(stream_name)
            del self._server.streams[stream_name]

    def list_streams(self) -> list[str]:
        self._check_open()
        with self._server.lock:
            return list(self._server.streams)

    def append_message(self, stream_name: str, data: bytes) -> int:
        self._check_open()
        if not isinstance(data, bytes):
            raise ValidationException("Property payload is invalid because it must be of type bytes")
        with self._server.lock:
            if self._server.append_failures > 0:
                self._server.append_failures -= 1
                raise ConnectionError("stream manager is not reachable")
            stream = self._stream(stream_name)
            definition = stream.definition
            if len(data) > definition.max_size:
                raise InvalidRequestException("message is larger than the stream's max size")
            while stream.size() + len(data) > definition.max_size:
                if definition.strategy_on_full == StrategyOnFull.RejectNewData:
                    raise InvalidRequestException(f"stream {stream_name} is full")
                stream.segments.pop(0)  # OverwriteOldestData: whole segments go
                if not stream.segments:
                    stream.segments.append([])
            last = stream.segments[-1]
            if last and sum(len(m.payload) for m in last) + len(data) > definition.stream_segment_size:
                stream.segments.append(last := [])
            seq = stream.next_seq
            stream.next_seq += 1
            last.append(Message(stream_name=stream_name, sequence_number=seq,
                                ingest_time=int(time.time() * 1000), payload=data))
            self._server.lock.notify_all()
            return seq

    def read_messages(self, stream_name: str, options: ReadMessagesOptions | None = None) -> list[Message]:
        self._check_open()
        options = options or ReadMessagesOptions()
        self._check(options, ReadMessagesOptions)
        low, high = options.min_message_count or 1, options.max_message_count or 1
        if low > high:
            raise ValidationException("min_message_count must be less than or equal to max_message_count")
        deadline = time.monotonic() + (options.read_timeout_millis or 0) / 1000
        with self._server.lock:
            while True:
                stream = self._stream(stream_name)
                start = options.desired_start_sequence_number or 0
                available = [m for m in stream.messages() if m.sequence_number >= start]
                if len(available) >= low:
                    return available[:high]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise NotEnoughMessagesException("not enough messages")
                self._server.lock.wait(remaining)

    def describe_message_stream(self, stream_name: str) -> MessageStreamInfo:
        self._check_open()
        with self._server.lock:
            stream = self._stream(stream_name)
            messages = stream.messages()
            status = MessageStreamInfo.storageStatus(
                oldest_sequence_number=messages[0].sequence_number if messages else stream.next_seq,
                newest_sequence_number=stream.next_seq - 1, total_bytes=stream.size())
            return MessageStreamInfo(definition=stream.definition, storage_status=status)

    def close(self) -> None:
        self._closed = True

    def _stream(self, name: str) -> _Stream:
        try:
            return self._server.streams[name]
        except KeyError:
            raise ResourceNotFoundException(f"stream {name} not found") from None

    def _check(self, obj: object, kind: type) -> None:
        self._check_open()
        if not isinstance(obj, kind):
            raise ValidationException(f"argument must be a {kind.__name__} object")
        problem = UtilInternal.is_invalid(obj)
        if problem:
            raise ValidationException(problem)

    def _check_open(self) -> None:
        if self._closed:
            raise StreamManagerException("Client is closed. Create a new client first.")
