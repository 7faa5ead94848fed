"""File operations the spools need to survive a crash or a corrupt file."""

from __future__ import annotations

import os
import time
from pathlib import Path


def move_aside(path: Path, companions: tuple[str, ...] = ()) -> Path:
    """Rename an unreadable file to ``<name>.corrupt-<UTC time>`` (and its companion files,
    e.g. SQLite's ``-wal`` and ``-shm``, with the same suffixes); returns the new path.

    A file moved aside earlier is never replaced: a second one in the same second gets ``-2``,
    then ``-3``..., after the time."""
    stamp = f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    aside = path.with_name(stamp)
    n = 1
    while any(aside.with_name(aside.name + suffix).exists() for suffix in ("", *companions)):
        n += 1
        aside = path.with_name(f"{stamp}-{n}")
    for suffix in ("", *companions):
        source = path.with_name(path.name + suffix)
        if source.exists():
            os.replace(source, aside.with_name(aside.name + suffix))
    return aside
