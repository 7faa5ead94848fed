"""The spool's seq high-water mark, kept apart from SQLite's write-ahead log.

Why apart: a commit is durable once it is in the WAL (``-wal`` file); the database file only gets
it at the next checkpoint. If the WAL is lost after an unclean stop (deleted by hand, a copy that
left it behind, a filesystem repair), the database reopens with an older ``last_seq``, and the
seqs after it would be handed out again with other payloads — which the cloud, de-duplicating on
(device, epoch, seq), would discard as copies. A new epoch at every unclean open would avoid that
but would also start one after every ``kill -9`` (the common case, where the WAL survives and
SQLite's recovery is exact), and the stored batches' seqs would then collide with the new
epoch's. So the spool keeps a lease instead: before a commit makes a seq visible, this file holds
a mark at or above it, written ahead in steps of :data:`LEASE_STEP` (one extra fsync per step), and
set to the exact ``last_seq`` at a clean close. An open that finds the mark above the database's
``last_seq`` and no WAL to recover from knows the WAL was lost, and resumes after the mark.

The file is one fixed-width line overwritten in place, so updating it needs no new disk blocks
(it must work on a full disk).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

LEASE_STEP: Final = 128
"""Seqs reserved ahead by one write of the mark; at most this many are skipped after a lost WAL."""
_WIDTH: Final = 64


@dataclass(frozen=True, slots=True)
class HighWaterMark:
    epoch: str
    seq: int


class HighWaterFile:
    """``<spool>.seq``: ``<epoch> <seq>`` padded to a fixed width, fsynced on every write."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self.mark = _parse(os.pread(self._fd, _WIDTH, 0))

    def write(self, mark: HighWaterMark) -> None:
        """Durably record ``mark`` (an ``OSError`` leaves the previous one in force)."""
        line = f"{mark.epoch} {mark.seq}".encode().ljust(_WIDTH - 1) + b"\n"
        os.pwrite(self._fd, line, 0)
        os.fsync(self._fd)
        self.mark = mark

    def close(self) -> None:
        os.close(self._fd)


def _parse(data: bytes) -> HighWaterMark | None:
    """The mark in the file, None for a new (empty) or unreadable one."""
    parts = data.decode("ascii", errors="replace").split()
    if len(parts) != 2 or not parts[1].isdigit():
        return None
    return HighWaterMark(parts[0], int(parts[1]))
