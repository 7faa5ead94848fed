"""The dead-letter queue: a durable FIFO of error-action messages (a SQLite file by default)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cloud.stores.sql import SqlDatabase

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS dlq (
        id INTEGER PRIMARY KEY AUTOINCREMENT, received BIGINT NOT NULL, message TEXT NOT NULL)""",
)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One queued error-action message (``message`` in AWS's JSON shape)."""

    id: int
    received: int
    message: Any


class DeadLetterQueue:
    """Append error-action messages; read the oldest (or newest) and delete them once handled."""

    def __init__(self, db: SqlDatabase) -> None:
        self.db = db

    def open(self) -> None:
        self.db.open(SCHEMA)

    def close(self) -> None:
        self.db.close()

    async def put(self, message: Any) -> None:
        """Return once the message is committed to disk."""
        body = json.dumps(message, separators=(",", ":"))
        await self.db.run(lambda tx: tx.execute(
            "INSERT INTO dlq (received, message) VALUES (?, ?)", (int(time.time() * 1000), body)))

    async def peek(self, limit: int = 100, *, newest_first: bool = False) -> list[DeadLetter]:
        order = "DESC" if newest_first else "ASC"
        rows = await self.db.run(lambda tx: tx.query(
            f"SELECT id, received, message FROM dlq ORDER BY id {order} LIMIT ?", (limit,)))
        return [DeadLetter(int(i), int(r), json.loads(m)) for i, r, m in rows]

    async def delete(self, ids: Sequence[int]) -> int:
        """Remove handled messages; return how many were removed."""
        return await self.db.run(
            lambda tx: sum(tx.execute("DELETE FROM dlq WHERE id = ?", (i,)) for i in ids))

    async def count(self) -> int:
        rows = await self.db.run(lambda tx: tx.query("SELECT COUNT(*) FROM dlq"))
        return int(rows[0][0])
