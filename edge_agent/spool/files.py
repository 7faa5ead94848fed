"""File operations the spools need to survive a crash or a corrupt file."""

from __future__ import annotations

import os
import time
from pathlib import Path


def move_aside(path: Path, companions: tuple[str, ...] = ()) -> Path:
    """Rename an unreadable file to ``<name>.corrupt-<UTC time>`` (and its companion files,
    e.g. SQLite's ``-wal`` and ``-shm``, with the same suffixes); returns the new path."""
    aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
    for suffix in ("", *companions):
        source = path.with_name(path.name + suffix)
        if source.exists():
            os.replace(source, aside.with_name(aside.name + suffix))
    return aside
