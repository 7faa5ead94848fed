"""A read-only look into an SQLite spool file, safe while an agent is writing it (WAL)."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from edge_agent.spool.errors import SpoolCorrupt
from edge_agent.spool.sqlite_store import connect_read_only, read_meta
from edge_agent.spool.stats import SpoolStats


@dataclass(frozen=True, slots=True)
class SpoolReport:
    """What ``edgeferry spool inspect`` shows."""

    path: Path
    epoch: str
    last_seq: int
    stats: SpoolStats
    dead_letters: int
    """Rejected batches still kept for inspection (the newest ones)."""


def inspect_spool(path: Path, *, now: float | None = None) -> SpoolReport:
    """Read a spool's figures without modifying the file; :class:`SpoolCorrupt` if unreadable."""
    conn = connect_read_only(path)
    try:
        meta = read_meta(conn)
        depth, size, oldest = conn.execute(
            "SELECT count(*), total(size), min(created) FROM batches").fetchone()
        (dead,) = conn.execute("SELECT count(*) FROM dead_letters").fetchone()
    except (sqlite3.DatabaseError, KeyError, ValueError) as exc:
        raise SpoolCorrupt(f"{path}: not a readable spool database ({exc})") from None
    finally:
        conn.close()
    now = time.time() if now is None else now
    age = None if oldest is None else max(0.0, now - oldest)
    stats = SpoolStats(depth=depth, bytes=int(size), oldest_age=age,
                       dropped=meta.dropped, rejected=meta.rejected, last_acked_seq=meta.last_acked_seq,
                       in_flight=0, disk_full=meta.disk_full)
    return SpoolReport(path=path, epoch=meta.epoch, last_seq=meta.last_seq, stats=stats, dead_letters=dead)
