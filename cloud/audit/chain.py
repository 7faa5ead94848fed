"""The archive's hash chain: one entry per closed lake file (``seal``) or expired file (``expire``).

Each partition directory keeps its entries in ``_manifest.jsonl`` (file, row count, SHA-256, the
rows' time span); every entry names the hash of the entry before it, across partitions, so the
manifests together form one chain. ``_audit/HEAD`` holds the index and hash of the last entry.
Changing a row changes a file's SHA-256; changing, dropping or inserting an entry breaks a hash or
a link; dropping the newest entries leaves ``HEAD`` pointing past the chain's end.

Locally this detects tampering; it cannot prevent it (someone who can write the folder can rebuild
the whole chain). On AWS the same files go to an S3 bucket with Object Lock in compliance mode,
which prevents it; keep a copy of the head hash elsewhere (each audit export carries it) to
detect a rebuilt chain here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from cloud.stores.durable import fsync

MANIFEST = "_manifest.jsonl"
AUDIT_DIR = "_audit"
HEAD = "HEAD"
GENESIS = "0" * 64
"""The ``prev`` of the first entry."""

Operation = Literal["seal", "expire"]


class ChainError(Exception):
    """A chain or archive that does not verify; the message names the first broken link."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One link of the chain."""

    index: int
    op: Operation
    partition: str
    file: str
    rows: int
    sha256: str
    t_min: int
    """Earliest row time in the file (ms)."""
    t_max: int
    at: int
    """When the file was sealed or expired (ms since the epoch)."""
    prev: str
    hash: str = ""

    @property
    def path(self) -> str:
        """The file's path relative to the table root."""
        return f"{self.partition}/{self.file}" if self.partition else self.file

    def content_hash(self) -> str:
        """SHA-256 over every field but ``hash``, as canonical JSON."""
        fields = {k: v for k, v in asdict(self).items() if k != "hash"}
        return hashlib.sha256(json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()).hexdigest()

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> Entry:
        data: dict[str, Any] = json.loads(line)
        return cls(**data)


@dataclass(frozen=True, slots=True)
class Head:
    index: int
    hash: str

    @classmethod
    def read(cls, root: Path) -> Head | None:
        try:
            data = json.loads((root / AUDIT_DIR / HEAD).read_text())
        except FileNotFoundError:
            return None
        return cls(int(data["index"]), str(data["hash"]))

    def write(self, root: Path) -> None:
        """Replace ``HEAD`` atomically and durably."""
        folder = root / AUDIT_DIR
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{HEAD}.tmp"
        tmp.write_text(json.dumps({"index": self.index, "hash": self.hash}) + "\n")
        fsync(tmp)
        tmp.replace(folder / HEAD)
        fsync(folder)


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, hex."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def read_entries(root: Path) -> list[Entry]:
    """Every entry of every partition manifest under ``root``, in chain order."""
    entries: list[Entry] = []
    for manifest in sorted(root.rglob(MANIFEST)):
        for number, line in enumerate(manifest.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entries.append(Entry.from_json(line))
            except (ValueError, TypeError) as exc:
                where = manifest.relative_to(root)
                raise ChainError(f"{where} line {number}: not a manifest entry ({exc})") from None
    entries.sort(key=lambda e: e.index)
    return entries


def check_links(entries: Iterable[Entry], *, start_prev: str = GENESIS, start_index: int = 0) -> Iterator[Entry]:
    """Yield each entry after checking its index, its link to the one before and its own hash;
    raise :class:`ChainError` naming the first that fails."""
    prev, index = start_prev, start_index
    for entry in entries:
        if entry.index != index:
            missing = "missing" if entry.index > index else "duplicated"
            raise ChainError(f"entry #{index} is {missing} (next entry found is #{entry.index}, "
                             f"{entry.path})")
        if entry.prev != prev:
            raise ChainError(f"entry #{entry.index} ({entry.path}) does not link to entry #{index - 1}")
        if entry.content_hash() != entry.hash:
            raise ChainError(f"entry #{entry.index} ({entry.path}) was altered: its hash does not "
                             "match its content")
        prev, index = entry.hash, index + 1
        yield entry
