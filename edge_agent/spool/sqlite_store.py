"""The SQLite file behind :class:`~edge_agent.spool.sqlite.SqliteSpool`.

Thread-confined and synchronous: every method runs on the spool's one worker thread. The file
is in WAL mode with ``synchronous=FULL`` (a commit survives power loss), and each commit is one
transaction that may carry many batches (group commit). The WAL is bounded by the spool's
:class:`~edge_agent.spool.budget.SpoolBudget`; a reserve file keeps headroom for a full disk, and
the seq high-water mark lives apart from the WAL (:mod:`edge_agent.spool.high_water`).
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import secrets
import sqlite3
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Final, Literal

from edge_agent.errors import EdgeferryError, Retryable, SpoolFull
from edge_agent.spool.budget import PAGE_SIZE, SpoolBudget
from edge_agent.spool.errors import SpoolCorrupt, SpoolLocked
from edge_agent.spool.files import move_aside
from edge_agent.spool.high_water import LEASE_STEP, HighWaterFile, HighWaterMark

logger = logging.getLogger(__name__)

SCHEMA_VERSION: Final = 1
DEAD_LETTER_KEEP: Final = 100
"""Rejected batches kept for inspection; older ones are forgotten (the counter remains)."""


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
    disk_full: int = 0
    """Of ``dropped``: batches refused because the disk was full."""


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
    forget_dead: list[int] = field(default_factory=list)
    """Dead letters (seqs) no longer kept, oldest first, to stay within their share of the budget."""


@dataclass(frozen=True, slots=True)
class DiskRoom:
    """After a commit: whether the disk is full, and the database's free pages (bytes).

    Once a write met a full disk, and until the reserve file is back, a new batch is taken only
    into pages the database already has, so that deletes and checkpoints keep the room they need."""

    disk_full: bool
    free: int


@dataclass(frozen=True, slots=True)
class OpenedSpool:
    """What :meth:`SpoolDatabase.open` finds."""

    meta: SpoolMeta
    entries: list[StoredEntry]
    dead_letters: list[tuple[int, int]]
    """Kept dead letters (seq, payload size), oldest first."""
    room: DiskRoom
    budget: SpoolBudget


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
                     last_acked_seq=int(rows.get("last_acked_seq", 0)),
                     disk_full=int(rows.get("disk_full", 0)))


def read_meta_value(conn: sqlite3.Connection, key: str) -> object:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else row[0]


class SpoolDatabase:
    """One spool file, opened for writing by one process (an advisory lock enforces it)."""

    def __init__(self, path: Path, conn: sqlite3.Connection, lock: IO[bytes], high_water: HighWaterFile,
                 budget: SpoolBudget) -> None:
        self.path = path
        self._conn = conn
        self._lock = lock
        self._high_water = high_water
        self._budget = budget
        self._reserve = path.with_name(path.name + ".reserve")
        self._disk_full = False
        self._last_seq: int | None = None
        """The database's last seq once it was checked against the high-water mark."""

    @classmethod
    def open(cls, path: Path, *, on_corrupt: OnCorrupt, max_bytes: int) -> tuple[SpoolDatabase, OpenedSpool]:
        """Open (or create) the spool; returns it with its meta, stored batches and dead letters.

        A corrupt file is moved aside as ``<name>.corrupt-<UTC time>`` and a new spool with a new
        epoch is started (``on_corrupt="move_aside"``), or :class:`SpoolCorrupt` is raised.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = _lock(path)
        try:
            budget = SpoolBudget.of(_within_disk(path, max_bytes))
            wal = path.with_name(path.name + "-wal")
            wal_found = wal.exists() and wal.stat().st_size > 0
            try:
                conn = _connect(path, budget)
            except SpoolCorrupt:
                if on_corrupt == "fail":
                    raise
                _move_aside(path)
                conn = _connect(path, budget)
            try:
                db = cls(path, conn, lock, HighWaterFile(path.with_name(path.name + ".seq")), budget)
            except BaseException:
                conn.close()
                raise
            try:
                return db, db._opened(wal_found=wal_found)
            except BaseException:
                db.close()
                raise
        except BaseException:
            lock.close()
            raise

    def _opened(self, *, wal_found: bool) -> OpenedSpool:
        conn = self._conn
        meta = self._resume(read_meta(conn), wal_found=wal_found)
        entries = [StoredEntry(*row) for row in conn.execute(
            "SELECT seq, kind, size, created FROM batches ORDER BY seq")]
        dead = conn.execute("SELECT seq, size FROM dead_letters ORDER BY rejected_at, seq").fetchall()
        room = self.room()
        if not self._reserve.exists():
            logger.warning("spool_reserve_unavailable", extra={
                "path": str(self.path), "bytes": self._budget.reserve,
                "action": "the disk has less free space than max_bytes needs; a full disk may stall acks"})
        return OpenedSpool(meta, entries, [(int(a), int(b)) for a, b in dead], room, self._budget)

    def _resume(self, meta: SpoolMeta, *, wal_found: bool) -> SpoolMeta:
        """Check the database's ``last_seq`` against the high-water mark (see its module)."""
        mark = self._high_water.mark
        if mark is not None and mark.epoch == meta.epoch and mark.seq > meta.last_seq and not wal_found:
            skipped = mark.seq - meta.last_seq
            logger.error("spool_wal_lost", extra={
                "path": str(self.path), "last_seq_in_database": meta.last_seq, "high_water": mark.seq,
                "skipped": skipped, "action": f"resuming after seq {mark.seq}; the {skipped} seqs "
                "between are counted as dropped (their batches, if any, went with the lost log)"})
            meta = replace(meta, last_seq=mark.seq, dropped=meta.dropped + skipped)
            self._conn.execute("BEGIN IMMEDIATE")
            _write_meta(self._conn, meta)
            self._conn.execute("COMMIT")
        elif mark is None or mark.epoch != meta.epoch or mark.seq < meta.last_seq:
            self._high_water.write(HighWaterMark(meta.epoch, meta.last_seq))
        self._last_seq = meta.last_seq
        return meta

    def commit(self, plan: CommitPlan) -> DiskRoom:
        """Write the plan in one transaction; durable when this returns.

        On a full disk (:class:`SpoolFull`) the reserve file is given up and the WAL checkpointed,
        so that a retry without new batches (deletes, counters) finds room.
        """
        conn = self._conn
        try:
            self._lease(plan.meta)
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
            if plan.forget_dead:
                conn.executemany("DELETE FROM dead_letters WHERE seq = ?", [(seq,) for seq in plan.forget_dead])
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
                self._make_room()
            raise error from exc
        self._last_seq = plan.meta.last_seq
        return self.room()

    def room(self) -> DiskRoom:
        """Take the reserve back if the disk has room again; the room as it is now."""
        if self._take_reserve():
            self._disk_full = False
        (free,) = self._conn.execute("PRAGMA freelist_count").fetchone()
        return DiskRoom(self._disk_full, int(free) * PAGE_SIZE)

    def _lease(self, meta: SpoolMeta) -> None:
        """Move the high-water mark ahead before a commit makes a seq above it visible."""
        mark = self._high_water.mark
        if mark is None or meta.last_seq > mark.seq:
            self._high_water.write(HighWaterMark(meta.epoch, meta.last_seq + LEASE_STEP))

    def _make_room(self) -> None:
        """Give up the reserve and checkpoint the WAL into the room it leaves."""
        self._disk_full = True
        if self._reserve.exists():
            self._reserve.unlink()
            logger.warning("spool_reserve_released", extra={
                "path": str(self.path), "bytes": self._budget.reserve,
                "action": "deletes and counters use the reserve; new batches are refused until the disk has room"})
        try:
            self._conn.execute("PRAGMA wal_checkpoint(RESTART)")
        except sqlite3.Error as exc:
            logger.warning("spool_checkpoint_failed", extra={"path": str(self.path), "error": str(exc)})

    def _take_reserve(self) -> bool:
        """Whether the reserve file is held; allocates it when missing and the disk has room for it
        and as much again (so that taking it does not fill the disk at once)."""
        if self._reserve.exists():
            return True
        try:
            disk = os.statvfs(self.path.parent)
        except OSError:
            return False
        if disk.f_bavail * disk.f_frsize < 2 * self._budget.reserve:
            return False
        try:
            fd = os.open(self._reserve, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                os.posix_fallocate(fd, 0, self._budget.reserve)
            finally:
                os.close(fd)
        except OSError:
            self._reserve.unlink(missing_ok=True)  # no room yet: try again later
            return False
        logger.info("spool_reserve_taken", extra={"path": str(self.path), "bytes": self._budget.reserve})
        return True

    def load(self, seq: int) -> bytes | None:
        """The payload of a stored batch, or None when it is gone."""
        try:
            row = self._conn.execute("SELECT payload FROM batches WHERE seq = ?", (seq,)).fetchone()
        except sqlite3.Error as exc:
            raise self._translate(exc) from exc
        return None if row is None else bytes(row[0])

    def close(self) -> None:
        """Close; after a clean close (the WAL checkpointed and removed) the high-water mark is
        brought down to the exact ``last_seq``, so the next open does not take a lease for a loss."""
        try:
            self._conn.close()
            if self._last_seq is not None and not self.path.with_name(self.path.name + "-wal").exists():
                mark = self._high_water.mark
                if mark is not None:
                    self._high_water.write(HighWaterMark(mark.epoch, self._last_seq))
        finally:
            self._high_water.close()
            self._lock.close()

    def _translate(self, exc: sqlite3.Error | OSError) -> Exception:
        code = _primary_code(exc)
        if code in _FULL_CODES or (isinstance(exc, OSError) and exc.errno == errno.ENOSPC):
            return SpoolFull(f"no space left to write spool {self.path}")
        if code in _CORRUPT_CODES:
            return SpoolCorrupt(f"{self.path}: spool database is corrupt ({exc})")
        return Retryable(f"spool {self.path}: {exc}")


def _within_disk(path: Path, max_bytes: int) -> int:
    """``max_bytes``, or less when the disk cannot give that much: what the spool's files take
    now plus the free space. The cap must be one the spool can reach without meeting a full disk."""
    try:
        disk = os.statvfs(path.parent)
        held = sum(p.stat().st_blocks * 512 for p in path.parent.glob(f"{path.name}*")
                   if p.is_file() and ".corrupt-" not in p.name)
    except OSError:
        return max_bytes
    available = held + disk.f_bavail * disk.f_frsize
    if available >= max_bytes:
        return max_bytes
    logger.warning("spool_capped_to_disk", extra={
        "path": str(path), "max_bytes": max_bytes, "available": available,
        "action": "the spool applies its when_full policy at what the disk can hold"})
    return available


def _primary_code(exc: BaseException) -> int | None:
    """SQLite's primary result code (the low byte of an extended code), if the error has one."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def _connect(path: Path, budget: SpoolBudget) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout = 10000")
        check = conn.execute("PRAGMA quick_check").fetchone()
        if check is None or check[0] != "ok":
            raise SpoolCorrupt(f"{path}: spool database is corrupt (integrity check: {check})")
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and "meta" not in tables:
            raise EdgeferryError(f"{path}: an SQLite database but not an edgeferry spool; not touching it")
        conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # a new file only; the budget counts in pages
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute(f"PRAGMA wal_autocheckpoint = {budget.wal_pages}")
        conn.execute(f"PRAGMA journal_size_limit = {budget.wal_limit}")
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
        ("last_acked_seq", meta.last_acked_seq), ("disk_full", meta.disk_full)])


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
    applied to the new database), and say how many unsent batches it holds, as far as it tells."""
    aside = move_aside(path, ("-wal", "-shm", ".seq"))
    logger.error("spool_corrupt_moved_aside",
                 extra={"path": str(path), "moved_to": str(aside), "unsent_batches": _count_unsent(aside),
                        "action": "new epoch started; the batches left in the moved file are not sent"})


def _count_unsent(path: Path) -> int | str:
    """Batches a moved-aside spool still holds, or why they cannot be counted."""
    try:
        conn = connect_read_only(path)
    except SpoolCorrupt as exc:
        return f"unknown ({exc})"
    try:
        (count,) = conn.execute("SELECT count(*) FROM batches").fetchone()
        return int(count)
    except sqlite3.DatabaseError as exc:
        return f"unknown ({exc})"
    finally:
        conn.close()
