"""Message streams as Stream Manager documents them, kept in memory or in segment files.

Semantics (Greengrass v2 developer guide, "Use StreamManagerClient to work with streams", and
the SDK's ``MessageStreamDefinition`` / ``ReadMessagesOptions`` docs):

- each stream numbers its messages 0, 1, 2, ... and never reuses a number, across restarts too;
- a stream is a list of segments of ``stream_segment_size`` bytes; data is deleted only a whole
  segment at a time, the oldest first (``OverwriteOldestData`` when ``max_size`` is reached, or
  once every message of a segment is older than ``time_to_live_millis``);
- ``RejectNewData`` refuses an append that would take the stream past ``max_size``;
- ``Persistence.File`` streams survive a restart; ``flush_on_write`` waits for the file system
  (fsync) before an append is answered; without it, appends sit in a buffer written out every
  second, so a killed server may lose the newest ones. ``Persistence.Memory`` streams are gone
  after a restart.

On disk, each File stream is a directory (the name's UTF-8 bytes in hex) holding
``definition.cbor`` and one ``<first sequence number>.seg`` file per segment, a run of records:
``>IqqI`` header (payload length, sequence number, ingest time in ms, CRC-32 of the payload),
then the payload. A record torn by a crash is cut off when the stream is loaded; a record whose
checksum no longer matches when it is read is a ``MessageStoreReadError``.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

import cbor2
from stream_manager.data import (
    Message,
    MessageStreamDefinition,
    MessageStreamInfo,
    Persistence,
    ResponseStatusCode,
    StrategyOnFull,
)

from edge_agent.files import write_atomic

logger = logging.getLogger(__name__)

RECORD: Final = struct.Struct(">IqqI")
DEFAULT_MAX_SIZE: Final = 256 * 1024 * 1024
DEFAULT_SEGMENT_SIZE: Final = 16 * 1024 * 1024
DEFINITION_FILE: Final = "definition.cbor"


class StoreError(Exception):
    """A request the store refuses; ``status`` is what the response carries."""

    def __init__(self, status: ResponseStatusCode, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(slots=True)
class _Entry:
    seq: int
    ingest_time: int
    offset: int
    """Where the payload starts in the segment file."""
    length: int
    payload: bytes | None = None
    """Memory streams only."""


@dataclass(slots=True)
class _Segment:
    first_seq: int
    file: IO[bytes] | None = None
    path: Path | None = None
    entries: list[_Entry] = field(default_factory=list)
    size: int = 0

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


class MessageStream:
    """One stream: its definition, its segments and the next sequence number."""

    def __init__(self, definition: MessageStreamDefinition, directory: Path | None) -> None:
        self.definition = definition
        self.directory = directory
        self.segments: list[_Segment] = []
        self.next_seq = 0

    @property
    def name(self) -> str:
        return str(self.definition.name)

    @property
    def total_bytes(self) -> int:
        return sum(s.size for s in self.segments)

    @property
    def oldest(self) -> int:
        for segment in self.segments:
            if segment.entries:
                return segment.entries[0].seq
        return self.next_seq

    def open_new(self) -> None:
        if self.directory is not None:
            self.directory.mkdir(parents=True)
            self._save_definition()
        self._add_segment()

    def load(self) -> None:
        """Read the segment files of a File stream back (after a restart)."""
        assert self.directory is not None
        for path in sorted(self.directory.glob("*.seg")):
            segment = _Segment(int(path.stem), open(path, "r+b"), path)  # noqa: SIM115 (kept open)
            self._scan(segment)
            self.segments.append(segment)
            self.next_seq = max(self.next_seq, segment.first_seq + len(segment.entries))
        if not self.segments:
            self._add_segment()

    def append(self, payload: bytes, now_ms: int) -> int:
        definition = self.definition
        size = RECORD.size + len(payload)
        max_size = definition.max_size or DEFAULT_MAX_SIZE
        if size > max_size:
            raise StoreError(ResponseStatusCode.InvalidRequest,
                             f"message of {len(payload)} bytes does not fit in stream {self.name} "
                             f"(max size {max_size} bytes)")
        self.expire(now_ms)
        while self.total_bytes + size > max_size:
            if definition.strategy_on_full == StrategyOnFull.RejectNewData:
                raise StoreError(ResponseStatusCode.InvalidRequest,
                                 f"stream {self.name} is full ({self.total_bytes} of {max_size} bytes) "
                                 "and its strategy is RejectNewData")
            self._drop_oldest()
        segment = self.segments[-1]
        if segment.entries and segment.size + size > (definition.stream_segment_size or DEFAULT_SEGMENT_SIZE):
            segment = self._add_segment()
        seq, entry = self.next_seq, _Entry(self.next_seq, now_ms, segment.size + RECORD.size, len(payload))
        if segment.file is None:
            entry.payload = payload
        else:
            segment.file.seek(segment.size)
            segment.file.write(RECORD.pack(len(payload), seq, now_ms, zlib.crc32(payload)) + payload)
            if definition.flush_on_write:
                segment.file.flush()
                os.fsync(segment.file.fileno())
        segment.entries.append(entry)
        segment.size += size
        self.next_seq += 1
        return seq

    def read(self, start: int, limit: int) -> list[Message]:
        """Up to ``limit`` messages from ``start`` on (from the oldest if ``start`` is older)."""
        out: list[Message] = []
        start = max(start, self.oldest)
        for segment in self.segments:
            first = max(0, start - segment.first_seq)
            for entry in segment.entries[first:]:
                if len(out) == limit:
                    return out
                out.append(Message(stream_name=self.name, sequence_number=entry.seq,
                                   ingest_time=entry.ingest_time, payload=self._payload(segment, entry)))
        return out

    def available(self, start: int) -> int:
        return self.next_seq - max(start, self.oldest)

    def info(self) -> MessageStreamInfo:
        status = MessageStreamInfo.storageStatus(oldest_sequence_number=self.oldest,
                                                 newest_sequence_number=self.next_seq - 1,
                                                 total_bytes=self.total_bytes)
        return MessageStreamInfo(definition=self.definition, storage_status=status, export_statuses=[])

    def update(self, definition: MessageStreamDefinition) -> None:
        if _persistence(definition) != _persistence(self.definition):
            raise StoreError(ResponseStatusCode.UpdateNotAllowed,
                             f"the persistence of stream {self.name} cannot be changed")
        self.definition = definition
        if self.directory is not None:
            self._save_definition()

    def expire(self, now_ms: int) -> None:
        """Drop whole segments whose every message outlived the time to live (never the newest)."""
        ttl = self.definition.time_to_live_millis
        while ttl and len(self.segments) > 1 and (
                not self.segments[0].entries or self.segments[0].entries[-1].ingest_time + ttl < now_ms):
            self._drop_oldest()

    def flush(self) -> None:
        for segment in self.segments:
            if segment.file is not None:
                segment.file.flush()

    def close(self) -> None:
        for segment in self.segments:
            segment.close()

    def delete(self) -> None:
        self.close()
        if self.directory is not None:
            for path in self.directory.iterdir():
                path.unlink()
            self.directory.rmdir()

    # --- segments ---

    def _add_segment(self) -> _Segment:
        segment = _Segment(self.next_seq)
        if self.directory is not None:
            segment.path = self.directory / f"{self.next_seq:020d}.seg"
            segment.file = open(segment.path, "w+b")  # noqa: SIM115 (kept open)
            if self.definition.flush_on_write:
                _fsync_directory(self.directory)
        self.segments.append(segment)
        return segment

    def _drop_oldest(self) -> None:
        if len(self.segments) == 1:
            self._add_segment()
        segment = self.segments.pop(0)
        segment.close()
        if segment.path is not None:
            segment.path.unlink()

    def _payload(self, segment: _Segment, entry: _Entry) -> bytes:
        if entry.payload is not None:
            return entry.payload
        assert segment.file is not None
        segment.file.flush()
        header = os.pread(segment.file.fileno(), RECORD.size, entry.offset - RECORD.size)
        payload = os.pread(segment.file.fileno(), entry.length, entry.offset)
        if len(header) < RECORD.size or len(payload) < entry.length:
            raise StoreError(ResponseStatusCode.MessageStoreReadError,
                             f"message {entry.seq} of stream {self.name} is truncated on disk")
        length, seq, _, crc = RECORD.unpack(header)
        if (length, seq, crc) != (entry.length, entry.seq, zlib.crc32(payload)):
            raise StoreError(ResponseStatusCode.MessageStoreReadError,
                             f"message {entry.seq} of stream {self.name} is corrupt on disk")
        return payload

    def _scan(self, segment: _Segment) -> None:
        assert segment.file is not None
        data = segment.file.read()
        offset = 0
        while offset + RECORD.size <= len(data):
            length, seq, ingest_time, crc = RECORD.unpack_from(data, offset)
            end = offset + RECORD.size + length
            expected = segment.first_seq + len(segment.entries)
            if end > len(data) or seq != expected or zlib.crc32(data[offset + RECORD.size:end]) != crc:
                break
            segment.entries.append(_Entry(seq, ingest_time, offset + RECORD.size, length))
            offset = end
        if offset < len(data):
            logger.warning("stream_manager_torn_record", extra={
                "stream": self.name, "segment": str(segment.path), "cut_bytes": len(data) - offset})
            segment.file.truncate(offset)
        segment.size = offset

    def _save_definition(self) -> None:
        assert self.directory is not None
        write_atomic(self.directory / DEFINITION_FILE, cbor2.dumps(self.definition.as_dict()))


class StreamStore:
    """All streams of one server; File streams live under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.streams: dict[str, MessageStream] = {}
        root.mkdir(parents=True, exist_ok=True)
        for directory in sorted(p for p in root.iterdir() if (p / DEFINITION_FILE).exists()):
            definition = MessageStreamDefinition.from_dict(cbor2.loads((directory / DEFINITION_FILE).read_bytes()))
            stream = MessageStream(definition, directory)
            stream.load()
            self.streams[stream.name] = stream

    def create(self, definition: MessageStreamDefinition) -> None:
        if definition.name in self.streams:
            raise StoreError(ResponseStatusCode.InvalidRequest, f"stream {definition.name} already exists")
        directory = None
        if _persistence(definition) == Persistence.File:
            directory = self.root / str(definition.name).encode().hex()
        stream = MessageStream(definition, directory)
        stream.open_new()
        self.streams[stream.name] = stream

    def get(self, name: str) -> MessageStream:
        try:
            return self.streams[name]
        except KeyError:
            raise StoreError(ResponseStatusCode.ResourceNotFound, f"stream {name} not found") from None

    def delete(self, name: str) -> None:
        self.get(name).delete()
        del self.streams[name]

    def flush(self) -> None:
        for stream in self.streams.values():
            stream.flush()

    def close(self) -> None:
        for stream in self.streams.values():
            stream.flush()
            stream.close()


def _persistence(definition: MessageStreamDefinition) -> Any:
    return definition.persistence if definition.persistence is not None else Persistence.File


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
