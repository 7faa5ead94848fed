"""Atomic file writes for the rig's keys, certificates and broker configuration."""

from __future__ import annotations

import os
from pathlib import Path


def write_private(path: Path, data: bytes, mode: int = 0o600, *, sync: bool = True) -> None:
    """Write ``data`` atomically (temp file, rename) with ``mode`` set before any byte lands;
    ``sync`` also fsyncs it (skip it for throw-away test identities issued by the thousand)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def write_text(path: Path, text: str) -> None:
    """Write a non-secret text file atomically (mode 0644)."""
    write_private(path, text.encode(), mode=0o644)
