"""The lake: Parquet files, hive-partitioned (``site=a/date=2026-11-22/part-….parquet``).

Rows are first staged in a SQLite file beside the data (``_staging.db``, committed before a
write returns; one staged chunk per message and partition) together with the message key, which
makes writes durable and idempotent. Staged rows go into an open Parquet file in buffered row
groups; a file is written under a hidden temporary name and renamed when closed, after which it
never changes. A closed file is named after the first and last staged chunk it holds, so after a
crash between the rename and the clean-up of the staging table the rows are recognised and not
written twice. Every closed file is sealed into the table's audit chain (:mod:`cloud.audit`) before
its rename and made read-only after it; files older than the retention expire through the chain.
"""

from __future__ import annotations

import asyncio
import json
import logging
import operator
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from cloud.audit.archive import Archive
from cloud.stores.durable import fsync as _fsync
from cloud.stores.filelock import DirectoryLock
from cloud.stores.partitions import DERIVED_KEYS, ROW_FIELDS, partition_keys_valid, partition_path
from cloud.stores.records import Record
from cloud.stores.sql import SqlDatabase, Transaction

logger = logging.getLogger(__name__)

_ROW_VALUES = operator.attrgetter(*ROW_FIELDS)
ARROW_TYPES: dict[str, pa.DataType] = {
    "device": pa.string(), "point": pa.string(), "t": pa.int64(), "kind": pa.string(),
    "value": pa.float64(), "text": pa.string(), "q": pa.int8(), "site": pa.string(),
    "asset_type": pa.string(), "epoch": pa.string(), "seq": pa.int64(), "w": pa.int64(),
    "n": pa.int64(), "min": pa.float64(), "max": pa.float64(), "avg": pa.float64(),
}
SCHEMA = (
    """CREATE TABLE IF NOT EXISTS lake_messages (device TEXT NOT NULL, epoch TEXT NOT NULL,
        seq BIGINT NOT NULL, received BIGINT NOT NULL, PRIMARY KEY (device, epoch, seq))""",
    "CREATE INDEX IF NOT EXISTS lake_messages_received ON lake_messages (received)",
    """CREATE TABLE IF NOT EXISTS lake_staged (id INTEGER PRIMARY KEY AUTOINCREMENT,
        partition TEXT NOT NULL, rows TEXT NOT NULL)""",
)
_FILE_NAME = re.compile(r"^part-(\d{12})-(\d{12})\.parquet$")
_TMP_NAME = re.compile(r"^\.part-(\d{12})\.tmp$")
_T = ROW_FIELDS.index("t")


@dataclass(slots=True)
class _OpenFile:
    first_id: int
    last_id: int = 0
    rows: int = 0
    t_min: int = 2**63 - 1
    t_max: int = -(2**63)
    writer: pq.ParquetWriter | None = None
    buffer: list[Sequence[Any]] = field(default_factory=list)
    """Rows as value lists in ``ROW_FIELDS`` order."""
    opened: float = field(default_factory=time.monotonic)


class LakeStore:
    """Parquet lake under ``root`` partitioned by ``partition_by``. A row group is written once at
    least ``row_group_rows`` rows are buffered (a message's rows never straddle two); a file is
    closed once it holds at least ``file_rows`` rows or is older than ``max_file_age`` seconds
    (checked on each write and by :meth:`flush`). Message keys are remembered ``key_retention``
    seconds: a redelivery later than that is written again. Closed files expire ``retention``
    seconds after their newest row (None: kept forever)."""

    def __init__(self, root: Path, *, partition_by: Sequence[str] = ("date",), row_group_rows: int = 10_000,
                 file_rows: int = 100_000, max_file_age: float = 300.0,
                 key_retention: float = 30 * 86_400.0, retention: float | None = None) -> None:
        bad = partition_keys_valid(partition_by)
        if bad:
            raise ValueError(f"unknown partition keys {bad}; use row fields or {DERIVED_KEYS}")
        self.root = root
        self.partition_by = tuple(partition_by)
        self.row_group_rows = row_group_rows
        self.file_rows = file_rows
        self.max_file_age = max_file_age
        self.key_retention = key_retention
        self._columns = [(i, c) for i, c in enumerate(ROW_FIELDS) if c not in self.partition_by]
        self._schema = pa.schema([(c, ARROW_TYPES[c]) for _, c in self._columns])
        self._db = SqlDatabase(path=root / "_staging.db")
        self._writer = DirectoryLock(root)
        self.archive = Archive(root, retention=retention)
        self._open: dict[str, _OpenFile] = {}
        """Open files by partition; changed only under the staging database's lock, in step with
        its commits."""

    def open(self) -> None:
        """Open the staging table, drop unfinished files, and resume the staged rows (blocking)."""
        self._writer.acquire()
        self._db.open(SCHEMA)
        self.archive.open()
        for tmp in self.root.rglob(".part-*.tmp"):
            self._finish_or_drop(tmp)
        for partition, chunk_id, rows in self._db.transact(self._resume):
            self._buffer(partition, chunk_id, rows)

    def close(self) -> None:
        """Close every open file (blocking); staged rows not yet in a file stay staged."""
        self._db.exclusive(self._flush_all)
        self._db.close()
        self._writer.release()

    async def write(self, record: Record) -> int:
        """Stage a record's rows once; return how many rows were new (0 for a redelivery).
        Writes arriving together share one staging commit."""
        staged = await self._db.run(lambda tx: self._stage(tx, record), after_commit=self._buffer_staged)
        return sum(len(rows) for _, _, rows in staged)

    async def flush(self, *, force: bool = False) -> None:
        """Close files that are old enough (every open file with ``force``); forget message keys
        older than the key retention."""
        await asyncio.to_thread(self._db.exclusive, self._flush_all if force else self._flush_aged)
        await asyncio.to_thread(self._db.exclusive, self.archive.expire)
        horizon = int((time.time() - self.key_retention) * 1000)
        await self._db.run(lambda tx: tx.execute("DELETE FROM lake_messages WHERE received < ?", (horizon,)))

    def table(self) -> pa.Table:
        """Every row in closed files, partition columns included (for queries and tests)."""
        dataset = ds.dataset(self.root, format="parquet", partitioning="hive",
                             ignore_prefixes=[".", "_"])
        return dataset.to_table()

    def _buffer_staged(self, staged: list[tuple[str, int, list[Sequence[Any]]]]) -> None:
        """After the staging commit (in commit order, so chunk ids arrive increasing)."""
        for partition, chunk_id, rows in staged:
            self._buffer(partition, chunk_id, rows)
        self._flush_aged()

    def _stage(self, tx: Transaction, record: Record) -> list[tuple[str, int, list[Sequence[Any]]]]:
        key = record.key
        if not record.rows or not tx.execute(
                "INSERT INTO lake_messages (device, epoch, seq, received) VALUES (?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING", (key.device, key.epoch, key.seq, int(time.time() * 1000))):
            return []
        chunks: dict[str, list[Sequence[Any]]] = {}
        for row in record.rows:
            chunks.setdefault(partition_path(row, self.partition_by), []).append(_ROW_VALUES(row))
        # ids are consecutive: one writer holds the lock, and AUTOINCREMENT continues from sqlite_sequence
        before = tx.query("SELECT seq FROM sqlite_sequence WHERE name = 'lake_staged'")
        first = (int(before[0][0]) if before else 0) + 1
        staged = [(partition, first + i, rows) for i, (partition, rows) in enumerate(chunks.items())]
        tx.execute_many("INSERT INTO lake_staged (partition, rows) VALUES (?, ?)",
                        [(partition, json.dumps(rows, separators=(",", ":"))) for partition, _, rows in staged])
        return staged

    def _resume(self, tx: Transaction) -> list[tuple[str, int, list[Sequence[Any]]]]:
        for (partition,) in tx.query("SELECT DISTINCT partition FROM lake_staged"):
            for path in (self.root / partition).glob("part-*.parquet"):
                match = _FILE_NAME.match(path.name)
                if match:
                    tx.execute("DELETE FROM lake_staged WHERE partition = ? AND id <= ? AND id >= ?",
                               (partition, int(match.group(2)), int(match.group(1))))
        return [(partition, int(chunk_id), json.loads(rows)) for partition, chunk_id, rows
                in tx.query("SELECT partition, id, rows FROM lake_staged ORDER BY id")]

    def _buffer(self, partition: str, chunk_id: int, rows: list[Sequence[Any]]) -> None:
        current = self._open.get(partition)
        if current is None:
            current = self._open[partition] = _OpenFile(first_id=chunk_id)
        current.buffer.extend(rows)
        times = [row[_T] for row in rows]
        current.t_min = min(current.t_min, *times)
        current.t_max = max(current.t_max, *times)
        current.last_id = chunk_id
        current.rows += len(rows)
        if len(current.buffer) >= self.row_group_rows:
            self._write_row_group(partition, current)
        if current.rows >= self.file_rows:
            self._close_file(partition, current)

    def _write_row_group(self, partition: str, current: _OpenFile) -> None:
        if not current.buffer:
            return
        if current.writer is None:
            self._tmp_path(partition, current).parent.mkdir(parents=True, exist_ok=True)
            current.writer = pq.ParquetWriter(self._tmp_path(partition, current), self._schema,
                                              compression="zstd")
        columns = {name: [row[i] for row in current.buffer] for i, name in self._columns}
        current.writer.write_table(pa.table(columns, schema=self._schema))
        current.buffer.clear()

    def _close_file(self, partition: str, current: _OpenFile) -> None:
        self._write_row_group(partition, current)
        del self._open[partition]
        if current.writer is None:
            return
        current.writer.close()
        tmp = self._tmp_path(partition, current)
        final = tmp.with_name(f"part-{current.first_id:012d}-{current.last_id:012d}.parquet")
        _fsync(tmp)
        self.archive.seal(partition, tmp, final.name, rows=current.rows, t_min=current.t_min,
                          t_max=current.t_max)
        tmp.rename(final)
        _fsync(final.parent)
        self.archive.protect(final)
        self._db.transact(lambda tx: tx.execute(
            "DELETE FROM lake_staged WHERE partition = ? AND id >= ? AND id <= ?",
            (partition, current.first_id, current.last_id)))
        logger.info("lake_file_closed", extra={"file": str(final.relative_to(self.root)),
                                               "rows": current.rows})

    def _flush_aged(self) -> None:
        horizon = time.monotonic() - self.max_file_age
        for partition, current in list(self._open.items()):
            if current.opened <= horizon:
                self._close_file(partition, current)

    def _flush_all(self) -> None:
        for partition, current in list(self._open.items()):
            self._close_file(partition, current)

    def _tmp_path(self, partition: str, current: _OpenFile) -> Path:
        return self.root / partition / f".part-{current.first_id:012d}.tmp"

    def _finish_or_drop(self, tmp: Path) -> None:
        """A file left by a crash: rename it when it was sealed (the crash came between seal and
        rename), else drop it (its rows are still staged)."""
        match = _TMP_NAME.match(tmp.name)
        partition = tmp.parent.relative_to(self.root).as_posix().removeprefix(".")
        name = match and self.archive.sealed_name(partition, f"part-{match.group(1)}-", tmp)
        if not name:
            tmp.unlink()
            return
        final = tmp.with_name(name)
        tmp.rename(final)
        _fsync(final.parent)
        self.archive.protect(final)
