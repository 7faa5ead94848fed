"""How an SQLite spool's ``max_bytes`` is shared between everything it writes.

A spool writes more than its batches: the database file (batches, dead letters, the schema), the
write-ahead log (WAL), SQLite's shared-memory index (``-shm``) and a reserve file. On a small
volume each of them matters: left to SQLite's default, the WAL grows to ~4 MB before it is
checkpointed, and a checkpoint grows the database by what the WAL holds, so a full disk jams the
spool (no room to checkpoint, so no room to delete). The budget therefore bounds the WAL (a
checkpoint every ``wal_pages`` pages, the file cut back to ``wal_limit`` after it) and keeps a
reserve file of the same size that the spool gives up when the disk fills, so that deletes,
checkpoints and the durable count of refused batches can still commit. What is left is for the
database pages (:attr:`SpoolBudget.database`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from edge_agent.envelope import MAX_PAYLOAD_BYTES

PAGE_SIZE: Final = 4096
WAL_FRAME_HEADER: Final = 24
WAL_HEADER: Final = 32
SHM_BYTES: Final = 32 * 1024
"""SQLite's ``-shm`` index of a WAL up to ~4,000 frames (it grows in 32 KiB steps)."""
SCHEMA_PAGES: Final = 8
"""The header page, the meta table and the roots and first interior pages of the two batch tables."""
TRANSACTION_PAGES: Final = -(-MAX_PAYLOAD_BYTES // (PAGE_SIZE - 4)) + 16
"""The pages one commit writes at most: a largest batch (overflow chain) and the pages of the
index, meta and deletes around it (a commit holds at most one batch of that size)."""
WAL_PAGES_MIN: Final = 16
WAL_PAGES_MAX: Final = 64
"""A checkpoint at least every 256 KiB of WAL (SQLite's default is 1,000 pages, ~4 MB): the WAL and the
reserve that matches it are paid for by every spool, on every device."""


@dataclass(frozen=True, slots=True)
class SpoolBudget:
    """The shares of ``max_bytes`` (bytes unless named pages)."""

    max_bytes: int
    wal_pages: int
    """``PRAGMA wal_autocheckpoint``: checkpoint once the WAL holds this many pages."""

    @classmethod
    def of(cls, max_bytes: int) -> SpoolBudget:
        pages = max_bytes // 32 // PAGE_SIZE
        return cls(max_bytes, min(WAL_PAGES_MAX, max(WAL_PAGES_MIN, pages)))

    @property
    def wal_limit(self) -> int:
        """The WAL's largest size: a checkpoint's worth of frames plus one commit on top.
        ``PRAGMA journal_size_limit`` cuts it back to this after a checkpoint."""
        return WAL_HEADER + (self.wal_pages + TRANSACTION_PAGES) * (PAGE_SIZE + WAL_FRAME_HEADER)

    @property
    def reserve(self) -> int:
        """Headroom held in a reserve file: a checkpoint needs at most a full WAL's pages."""
        return self.wal_limit

    @property
    def overhead(self) -> int:
        """Everything but the pages of stored batches and dead letters."""
        return self.wal_limit + self.reserve + SHM_BYTES + SCHEMA_PAGES * PAGE_SIZE

    @property
    def database(self) -> int:
        """Bytes of database pages the stored batches and dead letters may use."""
        return max(0, self.max_bytes - self.overhead)

    @property
    def dead_letters(self) -> int:
        """The share of :attr:`database` that rejected batches kept for inspection may use."""
        return self.database // 8


MIN_MAX_BYTES: Final = SpoolBudget.of(0).overhead + 1024
"""The smallest ``max_bytes``: the overhead and a little room for batches (~580 KiB)."""


def entry_cost(size: int) -> int:
    """Database bytes a stored batch of ``size`` payload bytes takes, at most (page granularity).

    From SQLite's file format (fileformat2.html, "B-tree pages"): a record up to ``usable - 35``
    bytes sits in a leaf page, a longer one keeps a local part there and spills the rest into
    overflow pages of ``usable - 4`` bytes. Appends fill leaf pages, so a leaf page wastes less than
    one cell; the estimate charges a cell its share of a page that holds as many as fit.
    """
    usable = PAGE_SIZE
    record = size + 24  # record header, kind, size, created (REAL)
    largest_local = usable - 35
    if record <= largest_local:
        local, overflow = record, 0
    else:
        smallest_local = (usable - 12) * 32 // 255 - 23
        local = smallest_local + (record - smallest_local) % (usable - 4)
        if local > largest_local:
            local = smallest_local
        overflow = -(-(record - local) // (usable - 4))
    cell = local + 9 + 2 + (4 if overflow else 0)  # length and rowid varints, cell pointer
    per_page = (usable - 8) // cell
    leaf = usable if per_page <= 1 else -(-usable // per_page)
    return leaf + overflow * usable
