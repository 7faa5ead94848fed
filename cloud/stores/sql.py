"""One SQL connection (SQLite embedded, or PostgreSQL through psycopg 3) used from asyncio.

Statements are written once with ``?`` placeholders and ``ON CONFLICT`` clauses, which both
engines understand; for PostgreSQL the placeholders become ``%s``. Work runs in a worker thread,
one transaction at a time, with group commit: the pieces of work that arrive while a commit is
under way share the next transaction, each in its own savepoint, so one failing piece fails alone
and the others still cost a single commit (and fsync) together.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Cursor(Protocol):
    """The part of a DB-API cursor the stores use."""

    @property
    def rowcount(self) -> int: ...
    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...
    def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def fetchone(self) -> Any: ...


class Transaction:
    """A cursor inside one transaction; ``sql`` is written with ``?`` placeholders."""

    def __init__(self, cursor: Cursor, postgres: bool) -> None:
        self._cursor = cursor
        self._postgres = postgres

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; return the number of rows it changed."""
        self._cursor.execute(sql.replace("?", "%s") if self._postgres else sql, params)
        return self._cursor.rowcount

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        """Run one statement per row (one round trip on PostgreSQL); return the rows changed."""
        if not rows:
            return 0
        self._cursor.executemany(sql.replace("?", "%s") if self._postgres else sql, rows)
        return self._cursor.rowcount

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self._cursor.execute(sql.replace("?", "%s") if self._postgres else sql, params)
        return [tuple(row) for row in self._cursor.fetchall()]

    def script(self, statements: Iterable[str]) -> None:
        for statement in statements:
            self._cursor.execute(statement)


class SqlDatabase:
    """A SQLite file (WAL, ``synchronous=FULL``: a commit survives power loss) or a PostgreSQL DSN."""

    def __init__(self, *, path: Path | None = None, dsn: str | None = None) -> None:
        if (path is None) == (dsn is None):
            raise ValueError("give exactly one of path (SQLite) or dsn (PostgreSQL)")
        self._path = path
        self._dsn = dsn
        self._conn: Any = None
        self._lock = threading.RLock()
        self._pending: list[_Pending] = []
        self._committer: asyncio.Task[None] | None = None

    @property
    def postgres(self) -> bool:
        return self._dsn is not None

    @property
    def where(self) -> str:
        """Where the data lives, for logs and error messages (the DSN's password is not shown)."""
        return str(self._path) if self._path is not None else _redact(self._dsn or "")

    def open(self, schema: Iterable[str]) -> None:
        """Connect (blocking) and create the schema when missing."""
        conn: Any
        if self._path is not None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=10000")
        else:
            import psycopg

            conn = psycopg.connect(self._dsn or "", autocommit=True)
        self._conn = conn
        self.transact(lambda tx: tx.script(schema))

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def transact(self, work: Callable[[Transaction], T]) -> T:
        """Run ``work`` in one transaction (blocking); commit on return, roll back on error."""
        if self._conn is None:
            raise RuntimeError(f"database {self.where} is not open")
        with self._lock:
            if self.postgres:
                with self._conn.transaction(), self._conn.cursor() as cursor:
                    return work(Transaction(cursor, True))
            cursor = self._conn.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                result = work(Transaction(cursor, False))
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")
            return result

    def exclusive(self, work: Callable[[], T]) -> T:
        """Run ``work`` (blocking) while no transaction of this database runs: for state kept
        beside the database that must change in step with its commits."""
        with self._lock:
            return work()

    async def run(self, work: Callable[[Transaction], T], *,
                  after_commit: Callable[[T], object] | None = None) -> T:
        """Run ``work`` in a transaction shared with the work arriving meanwhile; return its result
        once committed. ``after_commit`` runs on the result after the commit, in commit order,
        before any later transaction; an error it raises is this call's error."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append(_Pending(work, after_commit, future))
        if self._committer is None:
            self._committer = loop.create_task(self._commit_pending())
        result: T = await future
        return result

    async def _commit_pending(self) -> None:
        try:
            while self._pending:
                group, self._pending = self._pending, []
                try:
                    outcomes = await asyncio.to_thread(self._commit_group, group)
                except Exception as exc:
                    outcomes = [(False, exc)] * len(group)
                for item, (ok, value) in zip(group, outcomes, strict=True):
                    if not item.future.done():
                        if ok:
                            item.future.set_result(value)
                        else:
                            item.future.set_exception(value)
        finally:
            self._committer = None

    def _commit_group(self, group: list[_Pending]) -> list[tuple[bool, Any]]:
        def body(tx: Transaction) -> list[tuple[bool, Any]]:
            outcomes: list[tuple[bool, Any]] = []
            for item in group:
                tx.execute("SAVEPOINT group_item")
                try:
                    outcomes.append((True, item.work(tx)))
                except Exception as exc:
                    tx.execute("ROLLBACK TO SAVEPOINT group_item")
                    outcomes.append((False, exc))
                tx.execute("RELEASE SAVEPOINT group_item")
            return outcomes

        with self._lock:
            outcomes = self.transact(body)
            for i, (item, (ok, value)) in enumerate(zip(group, outcomes, strict=True)):
                if ok and item.after_commit is not None:
                    try:
                        item.after_commit(value)
                    except Exception as exc:
                        outcomes[i] = (False, exc)
            return outcomes


@dataclass(slots=True)
class _Pending:
    work: Callable[[Transaction], Any]
    after_commit: Callable[[Any], object] | None
    future: asyncio.Future[Any]


class SweepClock:
    """Says when a periodic clean-up (retention, TTL) is due, at most once per ``interval`` s."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._next = 0.0

    def due(self) -> bool:
        now = time.monotonic()
        if now < self._next:
            return False
        self._next = now + self.interval
        return True


def _redact(dsn: str) -> str:
    return " ".join("password=***" if part.startswith("password=") else part for part in dsn.split())
