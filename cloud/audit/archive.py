"""The lake as a write-once archive: closed files are sealed into the hash chain, made read-only,
and expire only after their retention.

The lake calls :meth:`Archive.seal` on a finished file *before* renaming it to its final name,
so a crash leaves either an unsealed temporary file (dropped at the next open, its rows still
staged) or a sealed temporary file (renamed at the next open by :meth:`Archive.sealed_name`): a
file under its final name is always in the chain.
"""

from __future__ import annotations

import logging
import os
import stat
import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from cloud.audit.chain import GENESIS, MANIFEST, Entry, Head, Operation, file_digest, read_entries
from cloud.stores.durable import fsync

logger = logging.getLogger(__name__)

READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH


class Archive:
    """The chain of one lake table rooted at ``root``. ``retention`` (seconds, None: keep
    forever) is how long a file's newest row must be old before :meth:`expire` may remove it."""

    def __init__(self, root: Path, *, retention: float | None = None) -> None:
        self.root = root
        self.retention = retention
        self._entries: list[Entry] = []
        self._expired: set[str] = set()

    @property
    def entries(self) -> list[Entry]:
        return list(self._entries)

    @property
    def head(self) -> Head | None:
        last = self._entries[-1] if self._entries else None
        return Head(last.index, last.hash) if last else None

    def open(self) -> None:
        """Load the chain; bring ``HEAD`` forward over an entry appended just before a crash."""
        self._entries = read_entries(self.root)
        self._expired = {e.path for e in self._entries if e.op == "expire"}
        last, head = self.head, Head.read(self.root)
        if last is not None and (head is None or head.index == last.index - 1):
            last.write(self.root)

    def sealed_name(self, partition: str, prefix: str, tmp: Path) -> str | None:
        """The final name a sealed temporary file was to get (its entry's file name starts with
        ``prefix`` and names its SHA-256), or None when it was never sealed."""
        candidates = [e for e in reversed(self._entries)
                      if e.op == "seal" and e.partition == partition and e.file.startswith(prefix)]
        if not candidates:
            return None
        digest = file_digest(tmp)
        return next((e.file for e in candidates if e.sha256 == digest), None)

    def seal(self, partition: str, tmp: Path, final_name: str, *, rows: int, t_min: int,
             t_max: int) -> Entry:
        """Chain a finished file (still under its temporary name ``tmp``) as ``final_name``; the
        caller renames it afterwards and may then call :meth:`protect`."""
        return self._append("seal", partition, final_name, rows=rows, sha256=file_digest(tmp),
                            t_min=t_min, t_max=t_max, at=time.time())

    @staticmethod
    def protect(path: Path) -> None:
        """Make a sealed file read-only."""
        os.chmod(path, READ_ONLY)

    def expire(self, *, now: float | None = None) -> list[Entry]:
        """Remove every sealed file whose newest row is older than the retention; each removal is
        chained first. Does nothing without a retention."""
        if self.retention is None:
            return []
        now = now if now is not None else time.time()
        horizon = int((now - self.retention) * 1000)
        expired = []
        for entry in self._live():
            if entry.t_max < horizon:
                record = self._append("expire", entry.partition, entry.file, rows=entry.rows,
                                      sha256=entry.sha256, t_min=entry.t_min, t_max=entry.t_max, at=now)
                (self.root / entry.path).unlink(missing_ok=True)
                self._expired.add(entry.path)
                expired.append(record)
        if expired:
            logger.info("archive_expired", extra={"files": len(expired), "root": str(self.root)})
        return expired

    def _live(self) -> Iterable[Entry]:
        return [e for e in self._entries if e.op == "seal" and e.path not in self._expired]

    def _append(self, op: Operation, partition: str, file: str, *, rows: int, sha256: str,
                t_min: int, t_max: int, at: float) -> Entry:
        last = self._entries[-1] if self._entries else None
        entry = Entry(index=last.index + 1 if last else 0, op=op, partition=partition, file=file,
                      rows=rows, sha256=sha256, t_min=t_min, t_max=t_max, at=int(at * 1000),
                      prev=last.hash if last else GENESIS)
        entry = replace(entry, hash=entry.content_hash())
        manifest = self.root / partition / MANIFEST
        manifest.parent.mkdir(parents=True, exist_ok=True)
        with manifest.open("a") as f:
            f.write(entry.to_json() + "\n")
            f.flush()
            os.fsync(f.fileno())
        fsync(manifest.parent)
        self._entries.append(entry)
        Head(entry.index, entry.hash).write(self.root)
        return entry
