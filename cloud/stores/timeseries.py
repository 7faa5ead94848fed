"""Time-series store: a raw table kept for a retention period, and hourly min/max/avg rollups.

SQLite file by default; PostgreSQL (the RDS path) with the same schema. Writes are idempotent:
a message key is recorded in the same transaction as its rows, so a redelivered batch is
skipped whole, and a raw row already present (same device, point, kind, time) is neither
inserted again nor counted again in its rollup.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cloud.stores.records import Record, Row
from cloud.stores.sql import SqlDatabase, SweepClock, Transaction

logger = logging.getLogger(__name__)

HOUR_MS = 3_600_000
_COLUMNS = ("device", "point", "t", "kind", "value", "text", "q", "w", "n", "min", "max", "avg",
            "epoch", "seq")
SCHEMA = (
    """CREATE TABLE IF NOT EXISTS ts_messages (
        device TEXT NOT NULL, epoch TEXT NOT NULL, seq BIGINT NOT NULL, received BIGINT NOT NULL,
        PRIMARY KEY (device, epoch, seq))""",
    """CREATE TABLE IF NOT EXISTS ts_raw (
        device TEXT NOT NULL, point TEXT NOT NULL, t BIGINT NOT NULL, kind TEXT NOT NULL,
        value DOUBLE PRECISION, text TEXT, q INTEGER NOT NULL, w BIGINT, n BIGINT,
        min DOUBLE PRECISION, max DOUBLE PRECISION, avg DOUBLE PRECISION, epoch TEXT, seq BIGINT,
        PRIMARY KEY (device, point, kind, t))""",
    "CREATE INDEX IF NOT EXISTS ts_raw_t ON ts_raw (t)",
    """CREATE TABLE IF NOT EXISTS ts_hourly (
        device TEXT NOT NULL, point TEXT NOT NULL, hour BIGINT NOT NULL, n BIGINT NOT NULL,
        sum DOUBLE PRECISION NOT NULL, min DOUBLE PRECISION NOT NULL, max DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (device, point, hour))""",
)
_INSERT_RAW = (f"INSERT INTO ts_raw ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))}) "
               "ON CONFLICT DO NOTHING")
_UPSERT_HOURLY = """INSERT INTO ts_hourly (device, point, hour, n, sum, min, max) VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (device, point, hour) DO UPDATE SET n = ts_hourly.n + excluded.n,
    sum = ts_hourly.sum + excluded.sum,
    min = CASE WHEN excluded.min < ts_hourly.min THEN excluded.min ELSE ts_hourly.min END,
    max = CASE WHEN excluded.max > ts_hourly.max THEN excluded.max ELSE ts_hourly.max END"""


@dataclass(frozen=True, slots=True)
class Rollup:
    """Aggregate of one point over one hour (``hour`` is its start, ms)."""

    device: str
    point: str
    hour: int
    n: int
    min: float
    max: float
    avg: float


@dataclass(slots=True)
class _Partial:
    n: int
    sum: float
    min: float
    max: float

    def add(self, other: _Partial) -> None:
        self.n += other.n
        self.sum += other.sum
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)


class TimeseriesStore:
    """Raw rows with ``retention`` (seconds) and hourly rollups kept ``rollup_retention`` (None:
    forever). Message keys are kept as long as rollups, so a late redelivery is still recognised."""

    def __init__(self, db: SqlDatabase, *, retention: float, rollup_retention: float | None = None,
                 sweep_interval: float = 60.0) -> None:
        self.db = db
        self.retention = retention
        self.rollup_retention = rollup_retention
        self._sweeps = SweepClock(sweep_interval)

    def open(self) -> None:
        self.db.open(SCHEMA)

    def close(self) -> None:
        self.db.close()

    async def write(self, record: Record) -> int:
        """Store a record's rows once; return how many raw rows were new (0 for a redelivery).
        Rows already past the retention go into the rollups only."""
        now_ms, sweep = int(time.time() * 1000), self._sweeps.due()
        return await self.db.run(lambda tx: self._write(tx, record, now_ms, sweep))

    def _write(self, tx: Transaction, record: Record, now_ms: int, sweep: bool) -> int:
        if sweep:
            self._sweep(tx, now_ms)
        key = record.key
        if not tx.execute("INSERT INTO ts_messages (device, epoch, seq, received) VALUES (?, ?, ?, ?) "
                          "ON CONFLICT DO NOTHING", (key.device, key.epoch, key.seq, now_ms)):
            return 0
        horizon = now_ms - int(self.retention * 1000)
        fresh = [row for row in record.rows if row.t >= horizon]
        params = [[getattr(row, c) for c in _COLUMNS] for row in fresh]
        tx.execute("SAVEPOINT raw_rows")
        if tx.execute_many(_INSERT_RAW, params) == len(fresh):
            inserted = fresh
        else:  # some rows were already there: insert one by one to count only the new ones
            tx.execute("ROLLBACK TO SAVEPOINT raw_rows")
            inserted = [row for row, p in zip(fresh, params, strict=True) if tx.execute(_INSERT_RAW, p)]
        tx.execute("RELEASE SAVEPOINT raw_rows")
        stale = [row for row in record.rows if row.t < horizon]
        hourly: dict[tuple[str, str, int], _Partial] = {}
        for row in (*inserted, *stale):
            partial = _contribution(row)
            if partial is not None:
                slot = (row.device, row.point, row.t - row.t % HOUR_MS)
                if slot in hourly:
                    hourly[slot].add(partial)
                else:
                    hourly[slot] = partial
        tx.execute_many(_UPSERT_HOURLY, [(device, point, hour, p.n, p.sum, p.min, p.max)
                                         for (device, point, hour), p in hourly.items()])
        return len(inserted)

    def _sweep(self, tx: Transaction, now_ms: int) -> None:
        removed = tx.execute("DELETE FROM ts_raw WHERE t < ?", (now_ms - int(self.retention * 1000),))
        if self.rollup_retention is not None:
            horizon = now_ms - int(self.rollup_retention * 1000)
            removed += tx.execute("DELETE FROM ts_hourly WHERE hour < ?", (horizon - HOUR_MS,))
            tx.execute("DELETE FROM ts_messages WHERE received < ?", (horizon,))
        if removed:
            logger.info("timeseries_retention", extra={"store": self.db.where, "removed": removed})

    async def series(self, device: str, point: str, *, start: int | None = None,
                     end: int | None = None, limit: int = 10_000) -> list[Row]:
        """Raw rows of one point in ``[start, end)`` (ms), oldest first."""
        sql = (f"SELECT {', '.join(_COLUMNS)} FROM ts_raw WHERE device = ? AND point = ? "
               "AND t >= ? AND t < ? ORDER BY t, kind LIMIT ?")
        params = (device, point, start if start is not None else -(2**62),
                  end if end is not None else 2**62, limit)
        rows = await self.db.run(lambda tx: tx.query(sql, params))
        return [Row(**dict(zip(_COLUMNS, r, strict=True))) for r in rows]

    async def rollups(self, device: str, point: str, *, start: int | None = None,
                      end: int | None = None) -> list[Rollup]:
        """Hourly rollups of one point, oldest first."""
        sql = ("SELECT device, point, hour, n, sum, min, max FROM ts_hourly WHERE device = ? "
               "AND point = ? AND hour >= ? AND hour < ? ORDER BY hour")
        params = (device, point, start if start is not None else -(2**62),
                  end if end is not None else 2**62)
        rows = await self.db.run(lambda tx: tx.query(sql, params))
        return [_rollup(r) for r in rows]

    async def count(self) -> int:
        """Number of raw rows held."""
        rows = await self.db.run(lambda tx: tx.query("SELECT COUNT(*) FROM ts_raw"))
        return int(rows[0][0])


def _contribution(row: Row) -> _Partial | None:
    if row.kind == "window" and row.n and row.avg is not None and row.min is not None \
            and row.max is not None:
        return _Partial(row.n, row.avg * row.n, row.min, row.max)
    if row.kind == "reading" and row.value is not None:
        return _Partial(1, row.value, row.value, row.value)
    return None


def _rollup(r: Sequence[Any]) -> Rollup:
    device, point, hour, n, total, lo, hi = r
    return Rollup(device=device, point=point, hour=int(hour), n=int(n), min=float(lo), max=float(hi),
                  avg=float(total) / int(n) if n else 0.0)
