"""Re-checking an archive: the chain's links and head, every live file's bytes and row count,
files nobody sealed, and expiries that came before their retention."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from cloud.audit.chain import ChainError, Entry, Head, check_links, file_digest, read_entries


def verify_archive(root: Path, *, retention: float | None = None) -> list[Entry]:
    """The archive's entries when every check passes; otherwise raise :class:`ChainError` naming
    the first broken link. ``retention`` (seconds) also checks that no file expired early."""
    entries = list(check_links(read_entries(root)))
    _check_head(root, entries)
    live: dict[str, Entry] = {}
    for entry in entries:
        if entry.op == "seal":
            live[entry.path] = entry
            continue
        sealed = live.pop(entry.path, None)
        if sealed is None or sealed.sha256 != entry.sha256:
            raise ChainError(f"entry #{entry.index} expires {entry.path}, which no earlier entry sealed")
        if retention is not None and entry.t_max >= entry.at - retention * 1000:
            raise ChainError(f"entry #{entry.index} expired {entry.path} before its retention")
    for entry in live.values():
        _check_file(root, entry)
    for found in sorted(root.rglob("*.parquet")):
        relative = found.relative_to(root)
        if any(part.startswith((".", "_")) for part in relative.parts):
            continue
        if str(relative) not in live:
            raise ChainError(f"{relative} is not in any manifest (inserted, or sealed then altered)")
    return entries


def _check_head(root: Path, entries: list[Entry]) -> None:
    head = Head.read(root)
    if not entries:
        if head is not None:
            raise ChainError(f"HEAD names entry #{head.index} but there are no manifest entries")
        return
    last = entries[-1]
    if head is None:
        raise ChainError(f"{root}/_audit/HEAD is missing (chain ends at entry #{last.index})")
    if head.index != last.index or head.hash != last.hash:
        raise ChainError(f"HEAD names entry #{head.index} but the chain ends at entry #{last.index}: "
                         "entries were removed or the chain was rebuilt")


def _check_file(root: Path, entry: Entry) -> None:
    path = root / entry.path
    if not path.is_file():
        raise ChainError(f"{entry.path} (entry #{entry.index}) is missing")
    if file_digest(path) != entry.sha256:
        raise ChainError(f"{entry.path} (entry #{entry.index}) was altered: its SHA-256 differs "
                         "from its manifest entry")
    rows = pq.ParquetFile(path).metadata.num_rows
    if rows != entry.rows:
        raise ChainError(f"{entry.path} (entry #{entry.index}) holds {rows} rows, its entry says {entry.rows}")
