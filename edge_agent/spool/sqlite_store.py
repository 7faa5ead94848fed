"""The SQLite file behind :class:`~edge_agent.spool.sqlite.SqliteSpool`.

Thread-confined and synchronous: every method runs on the spool's one worker thread. The file
is in WAL mode with ``synchronous=FULL`` (a commit survives power loss), and each commit is one
transaction that may carry many batches (group commit).
"""

from __future__ import annotations

import errno
import fcntl
import logging
import secrets
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final, Literal

from edge_agent.errors import EdgeferryError, Retryable, SpoolFull
from edge_agent.spool.errors import SpoolCorrupt, SpoolLocked
from edge_agent.spool.files import move_aside

logger = logging.getLogger(__name__)

SCHEMA_VERSION: Final = 1
DEAD_LETTER_KEEP: Final = 100
"""Rejected batches kept for inspection; older ones are forgotten (the counter remains)."""

WAL_SIZE_LIMIT: Final = 4 * 1024 * 1024
"""After a checkpoint the WAL file is truncated to at most this (SQLite keeps it otherwise)."""

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS batches (
    seq INTEGER PRIMARY KEY, kind INTEGER NOT NULL, size INTEGER NOT NULL,
    created REAL NOT NULL, payload BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS dead_letters (
    seq INTEGER PRIMARY KEY, kind INTEGER NOT NULL, size INTEGER NOT NULL, created REAL NOT NULL,
    rejected_at REAL NOT NULL, reason TEXT NOT NULL, payload BLOB NOT NULL);
"""
_CORRUPT_CODES: Final = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
_FULL_CODES: Final = frozenset({sqlite3.SQLITE_FULL})

OnCorrupt = Literal["move_aside", "fail"]


@dataclass(frozen=True, slots=True)
class SpoolMeta:
    """The persisted scalars: identity, high-water mark and loss counters."""

    epoch: str
    last_seq: int = 0
    dropped: int = 0
    rejected: int = 0
    last_acked_seq: int = 0


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """A stored batch without its payload (the in-memory index holds these)."""

    seq: int
    kind: int
    size: int
    created: float


@dataclass(slots=True)
class CommitPlan:
    """Everything one transaction writes."""

    meta: SpoolMeta
    inserts: list[tuple[StoredEntry, bytes]] = field(default_factory=list)
    deletes: list[int] = field(default_factory=list)
    """Acknowledged or dropped batches."""
    dead_letters: list[tuple[int, str]] = field(default_factory=list)
    """Rejected batches (seq, reason), moved to the bounded dead-letter table."""


def connect_read_only(path: Path) -> sqlite3.Connection:
    """Open an existing spool file read-only (safe while an agent writes it, thanks to WAL)."""
    if not path.is_file():
        raise SpoolCorrupt(f"{path}: no such spool file")
    # No WAL file: no writer has it open, and a read-only connection would leave empty -wal and
    # -shm files behind; read it as immutable instead (https://www.sqlite.org/uri.html).
    live = path.with_name(path.name + "-wal").exists()
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro{'' if live else '&immutable=1'}", uri=True)
    try:
        version = read_meta_value(conn, "schema_version")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise SpoolCorrupt(f"{path}: not a readable spool database ({exc})") from None
    if version != SCHEMA_VERSION:
        conn.close()
        raise SpoolCorrupt(f"{path}: not an edgeferry spool (schema version {version!r})")
    return conn


def read_meta(conn: sqlite3.Connection) -> SpoolMeta:
    rows = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    return SpoolMeta(epoch=str(rows["epoch"]), last_seq=int(rows.get("last_seq", 0)),
                     dropped=int(rows.get("dropped", 0)), rejected=int(rows.get("rejected", 0)),
                     last_acked_seq=int(rows.get("last_acked_seq", 0)))


def read_meta_value(conn: sqlite3.Connection, key: str) -> object:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else row[0]


class SpoolDatabase:
    """One spool file, opened for writing by one process (an advisory lock enforces it)."""

    def __init__(self, path: Path, conn: sqlite3.Connection, lock: IO[bytes]) -> None:
        self.path = path
        self._conn = conn
        self._lock = lock

    @classmethod
    def open(cls, path: Path, *, on_corrupt: OnCorrupt) -> tuple[SpoolDatabase, SpoolMeta,
                                                                   list[StoredEntry]]:
        """Open (or create) the spool; returns it with its meta and the index of stored batches.

        A corrupt file is moved aside as ``<name>.corrupt-<UTC time>`` and a new spool with a new
        epoch is started (``on_corrupt="move_aside"``), or :class:`SpoolCorrupt` is raised.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = _lock(path)
        try:
            try:
                conn = _connect(path)
            except SpoolCorrupt:
                if on_corrupt == "fail":
                    raise
                _move_aside(path)
                conn = _connect(path)
            db = cls(path, conn, lock)
            entries = [StoredEntry(*row) for row in conn.execute(
                "SELECT seq, kind, size, created FROM batches ORDER BY seq")]
            return db, read_meta(conn), entries
        except BaseException:
            lock.close()
            raise

    def commit(self, plan: CommitPlan) -> None:
        """Write the plan in one transaction; durable when this returns."""
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            if plan.inserts:
                conn.executemany(
                    "INSERT INTO batches (seq, kind, size, created, payload) VALUES (?, ?, ?, ?, ?)",
                    [(e.seq, e.kind, e.size, e.created, payload) for e, payload in plan.inserts])
            if plan.dead_letters:
                now = time.time()
                conn.executemany(
                    "INSERT OR REPLACE INTO dead_letters SELECT seq, kind, size, created, ?, ?, payload"
                    " FROM batches WHERE seq = ?", [(now, reason, seq) for seq, reason in plan.dead_letters])
                conn.execute("DELETE FROM dead_letters WHERE seq NOT IN"
                             " (SELECT seq FROM dead_letters ORDER BY rejected_at DESC, seq DESC LIMIT ?)",
                             (DEAD_LETTER_KEEP,))
            deletes = plan.deletes + [seq for seq, _ in plan.dead_letters]
            if deletes:
                conn.executemany("DELETE FROM batches WHERE seq = ?", [(seq,) for seq in deletes])
            _write_meta(conn, plan.meta)
            conn.execute("COMMIT")
        except (sqlite3.Error, OSError) as exc:
            if conn.in_transaction:
                conn.rollback()
            error = self._translate(exc)
            if isinstance(error, SpoolFull):
                self._shrink_wal()
            raise error from exc

    def _shrink_wal(self) -> None:
        """Copy the WAL into the database and truncate it: on a full disk the WAL is often what
        holds the space (it is only checkpointed every ~4 MB by default)."""
        try:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            logger.warning("spool_checkpoint_failed", extra={"path": str(self.path), "error": str(exc)})

    def load(self, seq: int) -> bytes | None:
        """The payload of a stored batch, or None when it is gone."""
        try:
            row = self._conn.execute("SELECT payload FROM batches WHERE seq = ?", (seq,)).fetchone()
        except sqlite3.Error as exc:
            raise self._translate(exc) from exc
        return None if row is None else bytes(row[0])

    def close(self) -> None:
        try:
            self._conn.close()
        finally:
            self._lock.close()

    def _translate(self, exc: sqlite3.Error | OSError) -> Exception:
        code = _primary_code(exc)
        if code in _FULL_CODES or (isinstance(exc, OSError) and exc.errno == errno.ENOSPC):
            return SpoolFull(f"no space left to write spool {self.path}")
        if code in _CORRUPT_CODES:
            return SpoolCorrupt(f"{self.path}: spool database is corrupt ({exc})")
        return Retryable(f"spool {self.path}: {exc}")


def _primary_code(exc: BaseException) -> int | None:
    """SQLite's primary result code (the low byte of an extended code), if the error has one."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout = 10000")
        check = conn.execute("PRAGMA quick_check").fetchone()
        if check is None or check[0] != "ok":
            raise SpoolCorrupt(f"{path}: spool database is corrupt (integrity check: {check})")
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and "meta" not in tables:
            raise EdgeferryError(f"{path}: an SQLite database but not an edgeferry spool; not touching it")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
        _create(conn)
        version = read_meta_value(conn, "schema_version")
        if version != SCHEMA_VERSION:
            raise EdgeferryError(f"{path}: spool schema version {version!r}, expected {SCHEMA_VERSION}")
    except sqlite3.Error as exc:
        conn.close()
        if _primary_code(exc) in _CORRUPT_CODES:
            raise SpoolCorrupt(f"{path}: spool database is corrupt ({exc})") from None
        raise EdgeferryError(f"{path}: cannot open spool database ({exc})") from None
    except BaseException:
        conn.close()
        raise
    return conn


def _create(conn: sqlite3.Connection) -> None:
    """Create the schema and a new epoch in one transaction (idempotent)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
        created = conn.execute("INSERT OR IGNORE INTO meta VALUES ('epoch', ?)", (secrets.token_hex(8),))
        if created.rowcount:
            _write_meta(conn, SpoolMeta(epoch=str(read_meta_value(conn, "epoch"))))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.rollback()
        raise


def _write_meta(conn: sqlite3.Connection, meta: SpoolMeta) -> None:
    conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [
        ("last_seq", meta.last_seq), ("dropped", meta.dropped), ("rejected", meta.rejected),
        ("last_acked_seq", meta.last_acked_seq)])


def _lock(path: Path) -> IO[bytes]:
    lock = open(path.with_name(path.name + ".lock"), "ab")  # noqa: SIM115 - held while open
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise SpoolLocked(f"spool {path} is in use by another process") from None
    return lock


def _move_aside(path: Path) -> None:
    """Rename the corrupt file with its WAL and shared-memory files (a stale WAL must not be
    applied to the new database)."""
    aside = move_aside(path, ("-wal", "-shm"))
    logger.error("spool_corrupt_moved_aside",
                 extra={"path": str(path), "moved_to": str(aside), "action": "new epoch started"})
