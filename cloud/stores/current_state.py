"""Current state: the latest value of every point of every device, upserted, expiring after a TTL.

An update wins only when its time is not older than the stored one, so redelivery and
out-of-order delivery leave the newest value in place (idempotent and order-independent).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from cloud.stores.records import Record, Scalar
from cloud.stores.sql import SqlDatabase, SweepClock, Transaction

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS current_state (
        device TEXT NOT NULL, point TEXT NOT NULL, t BIGINT NOT NULL, value TEXT NOT NULL,
        expires BIGINT, PRIMARY KEY (device, point))""",
)
_UPSERT = """INSERT INTO current_state (device, point, t, value, expires) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (device, point) DO UPDATE SET t = excluded.t, value = excluded.value,
    expires = excluded.expires WHERE excluded.t >= current_state.t"""


@dataclass(frozen=True, slots=True)
class PointState:
    device: str
    point: str
    t: int
    value: Scalar | None


class CurrentStateStore:
    """Latest value per (device, point); an entry expires ``ttl`` seconds after its reading time."""

    def __init__(self, db: SqlDatabase, *, ttl: float | None = None, sweep_interval: float = 60.0) -> None:
        self.db = db
        self.ttl = ttl
        self._sweeps = SweepClock(sweep_interval)

    def open(self) -> None:
        self.db.open(SCHEMA)

    def close(self) -> None:
        self.db.close()

    async def write(self, record: Record) -> int:
        """Upsert every point of the record; return how many entries changed."""
        if not record.latest:
            return 0
        rows = [(record.device, point, t, json.dumps(value), self._expiry(t))
                for point, (t, value) in record.latest.items()]
        sweep = self.ttl is not None and self._sweeps.due()
        return await self.db.run(lambda tx: self._write(tx, rows, sweep))

    def _expiry(self, t: int) -> int | None:
        return None if self.ttl is None else t + int(self.ttl * 1000)

    @staticmethod
    def _write(tx: Transaction, rows: list[tuple[str, str, int, str, int | None]], sweep: bool) -> int:
        if sweep:
            tx.execute("DELETE FROM current_state WHERE expires < ?", (int(time.time() * 1000),))
        return sum(tx.execute(_UPSERT, row) for row in rows)

    async def latest(self, device: str) -> list[PointState]:
        """The live (not expired) points of one device, by name."""
        now = int(time.time() * 1000)
        rows = await self.db.run(lambda tx: tx.query(
            "SELECT device, point, t, value FROM current_state WHERE device = ? "
            "AND (expires IS NULL OR expires >= ?) ORDER BY point", (device, now)))
        return [PointState(d, p, int(t), json.loads(v)) for d, p, t, v in rows]
