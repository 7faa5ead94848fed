"""The embedded stream: a durable append-only log with Kinesis semantics on local files.

A record goes to the shard whose hash-key range holds the MD5 of its partition key (as Kinesis
maps partition keys: "an MD5 hash function maps partition keys to 128-bit integer values",
key-concepts.html), and gets the next sequence number of that shard. Each shard is a directory
of segment files named by their first sequence number; a segment is rolled when it passes
``segment_bytes`` and deleted once older than ``retention``. Every append is fsynced before it
returns; a torn tail left by a crash is cut off when the log opens. A record carries its message
key, and a key already in the retained log is not appended again (idempotent puts).
"""

from __future__ import annotations

import asyncio
import bisect
import hashlib
import logging
import os
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from cloud.stores.durable import fsync
from cloud.stores.filelock import DirectoryLock
from cloud.stream.keys import KeyIndex

logger = logging.getLogger(__name__)

_FRAME = struct.Struct(">II")
"""Frame header: body length, CRC-32 of the body."""
_BODY = struct.Struct(">QqHH")
"""Body header: sequence number, arrival time (ms), partition key length, message key length."""
_SEGMENT_SUFFIX = ".seg"
HASH_SPACE = 1 << 128
MARK_EVERY = 64
"""A read seeks to the nearest marked record at most this many records before where it starts."""


def shard_for(partition_key: str, shards: int) -> int:
    """The shard whose equal slice of the 128-bit hash space holds MD5(partition key)."""
    digest = int.from_bytes(hashlib.md5(partition_key.encode()).digest(), "big")
    return digest * shards // HASH_SPACE


@dataclass(frozen=True, slots=True)
class StreamRecord:
    shard: int
    seq: int
    arrival: int
    """Arrival time in ms since the epoch (Kinesis' ApproximateArrivalTimestamp)."""
    partition_key: str
    key: str
    data: bytes


@dataclass(slots=True)
class _Segment:
    first_seq: int
    path: Path
    marks: list[tuple[int, int]] = field(default_factory=list)
    """(sequence number, file offset) of every ``MARK_EVERY``-th record: where a read starts."""

    def mark(self, seq: int, offset: int) -> None:
        if not self.marks or seq - self.marks[-1][0] >= MARK_EVERY:
            self.marks.append((seq, offset))

    def remember(self, seq: int, offset: int) -> None:
        """Where record ``seq`` starts, learnt by a reader (so that the next read starts there)."""
        i = bisect.bisect_left(self.marks, (seq, -1))
        if i == len(self.marks) or self.marks[i][0] != seq:
            self.marks.insert(i, (seq, offset))

    def offset_for(self, seq: int) -> int:
        """A file offset at or before the record ``seq``."""
        i = bisect.bisect_right(self.marks, (seq, 2**63)) - 1
        return self.marks[i][1] if i >= 0 else 0


class _Shard:
    """One shard's segments; appends and reads are serialised by the log's lock."""

    def __init__(self, index: int, directory: Path) -> None:
        self.index = index
        self.directory = directory
        self.segments: list[_Segment] = []
        self.last_seq = 0
        self.out: BinaryIO | None = None
        self.out_size = 0

    def load(self, keys: KeyIndex) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        paths = sorted(self.directory.glob(f"*{_SEGMENT_SUFFIX}"))
        self.segments = [_Segment(int(p.stem), p) for p in paths]
        for segment in self.segments:
            good = 0
            for record, end in _scan(self.index, segment.path):
                keys.add(record.key)
                segment.mark(record.seq, good)
                self.last_seq = record.seq
                good = end
            if segment is self.segments[-1] and good < segment.path.stat().st_size:
                logger.warning("stream_torn_tail_cut", extra={"segment": str(segment.path), "at": good})
                with segment.path.open("r+b") as f:
                    f.truncate(good)
                    os.fsync(f.fileno())

    def append(self, seq: int, frame: bytes, segment_bytes: int) -> None:
        if self.out is None or self.out_size >= segment_bytes:
            self._roll(segment_bytes)
        assert self.out is not None
        self.segments[-1].mark(seq, self.out_size)
        self.out.write(frame)
        self.out.flush()
        os.fdatasync(self.out.fileno())
        self.out_size += len(frame)

    def _roll(self, segment_bytes: int) -> None:
        if self.out is None and self.segments:
            last = self.segments[-1].path
            size = last.stat().st_size
            if size < segment_bytes:
                self.out, self.out_size = last.open("ab"), size
                return
        if self.out is not None:
            self.out.close()
        path = self.directory / f"{self.last_seq + 1:020d}{_SEGMENT_SUFFIX}"
        self.out, self.out_size = path.open("ab"), 0
        self.segments.append(_Segment(self.last_seq + 1, path))
        fsync(self.directory)

    def refresh(self) -> None:
        """For a reader in another process than the writer: pick up new and expired segments."""
        known = {segment.path: segment for segment in self.segments}
        paths = sorted(self.directory.glob(f"*{_SEGMENT_SUFFIX}"))
        self.segments = [known.get(p) or _Segment(int(p.stem), p) for p in paths]

    def read(self, after_seq: int, limit: int) -> list[StreamRecord]:
        out: list[StreamRecord] = []
        start = 0
        for i, segment in enumerate(self.segments):
            if segment.first_seq <= after_seq + 1:
                start = i
        for segment in self.segments[start:]:
            reached: tuple[int, int] | None = None
            try:
                for record, end in _scan(self.index, segment.path, segment.offset_for(after_seq + 1)):
                    if record.seq > after_seq:
                        out.append(record)
                        reached = (record.seq + 1, end)
                        if len(out) >= limit:
                            break
            except FileNotFoundError:  # expired by the writer meanwhile
                continue
            if reached is not None:
                segment.remember(*reached)
            if len(out) >= limit:
                break
        return out

    def expire(self, horizon: float) -> list[_Segment]:
        """Drop closed segments last written before ``horizon`` (epoch seconds)."""
        expired = [s for s in self.segments[:-1] if s.path.stat().st_mtime < horizon]
        for segment in expired:
            segment.path.unlink()
            self.segments.remove(segment)
        return expired

    def close(self) -> None:
        if self.out is not None:
            self.out.close()
            self.out = None


class StreamLog:
    """A named stream of ``shards`` shards under ``root``; an async facade over blocking files."""

    def __init__(self, root: Path, *, shards: int = 4, retention: float = 86_400.0,
                 segment_bytes: int = 64 * 1024**2, readonly: bool = False) -> None:
        if shards < 1:
            raise ValueError("a stream needs at least one shard")
        self.root = root
        self.retention = retention
        self.segment_bytes = segment_bytes
        self._shards = [_Shard(i, root / f"shard-{i:04d}") for i in range(shards)]
        self._keys = KeyIndex()
        self._lock = threading.Lock()
        self._writer = DirectoryLock(root)
        self.readonly = readonly
        """A reader (consumers in another process): no lock, no appends, no repairs."""
        self._appended = asyncio.Event()

    @property
    def shards(self) -> int:
        return len(self._shards)

    def open(self) -> None:
        """Load the segments, cut torn tails, and index the retained message keys (blocking). A
        reader only lists the segments; it never writes."""
        existing = sorted(self.root.glob("shard-*"))
        if existing and len(existing) != len(self._shards):
            raise ValueError(f"{self.root} holds {len(existing)} shards, not {len(self._shards)}: "
                             "the shard count of a stream cannot change")
        if self.readonly:
            if not existing:
                raise FileNotFoundError(f"no stream at {self.root}")
            for shard in self._shards:
                shard.refresh()
            return
        self._writer.acquire()
        with self._lock:
            for shard in self._shards:
                shard.load(self._keys)
            self._expire()

    def close(self) -> None:
        with self._lock:
            for shard in self._shards:
                shard.close()
        self._writer.release()

    async def put(self, partition_key: str, data: bytes, *, key: str) -> StreamRecord | None:
        """Append one record and return it once it is on disk; None if ``key`` is already in the
        retained log (a redelivery)."""
        result = await asyncio.to_thread(self._put, partition_key, data, key)
        self._appended.set()
        return result

    def _put(self, partition_key: str, data: bytes, key: str) -> StreamRecord | None:
        if self.readonly:
            raise PermissionError(f"stream {self.root} is open read-only")
        with self._lock:
            if key in self._keys:
                return None
            shard = self._shards[shard_for(partition_key, len(self._shards))]
            record = StreamRecord(shard.index, shard.last_seq + 1, int(time.time() * 1000),
                                  partition_key, key, data)
            shard.append(record.seq, _encode(record), self.segment_bytes)
            shard.last_seq = record.seq
            self._keys.add(key)
            return record

    async def read(self, shard: int, *, after_seq: int = 0, limit: int = 1000) -> list[StreamRecord]:
        """Records of one shard with sequence numbers above ``after_seq``, in order."""
        return await asyncio.to_thread(self._read, shard, after_seq, limit)

    def _read(self, shard: int, after_seq: int, limit: int) -> list[StreamRecord]:
        with self._lock:
            if self.readonly:
                self._shards[shard].refresh()
            return self._shards[shard].read(after_seq, limit)

    async def wait_for_append(self, within: float) -> bool:
        """Wait until a record is appended in this process (True), or ``within`` s pass."""
        self._appended.clear()
        try:
            await asyncio.wait_for(self._appended.wait(), within)
        except TimeoutError:
            return False
        return True

    async def expire(self) -> int:
        """Apply the retention; return how many segments were deleted (a reader deletes none)."""
        if self.readonly:
            return 0
        return await asyncio.to_thread(self._locked_expire)

    def _locked_expire(self) -> int:
        with self._lock:
            return self._expire()

    def _expire(self) -> int:
        horizon = time.time() - self.retention
        expired = 0
        for shard in self._shards:
            expired += len(shard.expire(horizon))
        if expired:
            self._keys = KeyIndex()
            for shard in self._shards:
                for segment in shard.segments:
                    for record, _ in _scan(shard.index, segment.path):
                        self._keys.add(record.key)
            logger.info("stream_retention", extra={"stream": str(self.root), "segments": expired})
        return expired

    def last_seq(self, shard: int) -> int:
        return self._shards[shard].last_seq


def _encode(record: StreamRecord) -> bytes:
    pk, key = record.partition_key.encode(), record.key.encode()
    body = _BODY.pack(record.seq, record.arrival, len(pk), len(key)) + pk + key + record.data
    return _FRAME.pack(len(body), zlib.crc32(body)) + body


def _scan(shard: int, path: Path, offset: int = 0) -> Iterator[tuple[StreamRecord, int]]:
    """Records of one segment from ``offset`` (a frame start), with the file offset after each;
    stops at the end or at the first torn frame. Reads only as far as the caller iterates."""
    with path.open("rb") as f:
        f.seek(offset)
        while len(header := f.read(_FRAME.size)) == _FRAME.size:
            length, crc = _FRAME.unpack(header)
            body = f.read(length)
            if len(body) < length or zlib.crc32(body) != crc or length < _BODY.size:
                return
            seq, arrival, pk_len, key_len = _BODY.unpack_from(body)
            at = _BODY.size
            pk = body[at:at + pk_len].decode()
            key = body[at + pk_len:at + pk_len + key_len].decode()
            offset += _FRAME.size + length
            yield StreamRecord(shard, seq, arrival, pk, key, body[at + pk_len + key_len:]), offset
