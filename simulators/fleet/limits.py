"""Process settings a fleet of thousands needs: open files, and a cheap TLS trust store."""

from __future__ import annotations

import contextlib
import logging
import os
import resource
from collections.abc import Iterator
from pathlib import Path

from edge_agent.errors import EdgeferryError

logger = logging.getLogger(__name__)

FILES_PER_TRAILER = 6
"""A socket, the spool's database, WAL, shared-memory and lock files, and one to spare."""
FILES_RESERVED = 200


def files_needed(trailers: int) -> int:
    return trailers * FILES_PER_TRAILER + FILES_RESERVED


def processes_needed(trailers: int) -> int:
    """How many processes the open-file hard limit calls for (when it cannot be raised)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        return 1
    per_process = max(1, (hard - FILES_RESERVED) // FILES_PER_TRAILER)
    return -(-trailers // per_process)


def raise_open_file_limit(trailers: int) -> int:
    """Raise the soft RLIMIT_NOFILE to what ``trailers`` need (up to the hard limit, or beyond it
    when the process may); raise :class:`EdgeferryError` when that is not possible. Returns the
    new soft limit. A rig started afterwards inherits the hard limit (mosquitto needs N + 100)."""
    need = files_needed(trailers)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < need:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, need))
            return need
        except (OSError, ValueError):
            raise EdgeferryError(
                f"{trailers} trailers need about {need} open files but the hard limit is {hard}: "
                f"raise it (ulimit -Hn {need}, or LimitNOFILE in a systemd unit) or run fewer") from None
    target = hard if hard != resource.RLIM_INFINITY else max(soft, need)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


@contextlib.contextmanager
def trust_only(ca: Path, empty_dir: Path) -> Iterator[None]:
    """Point TLS trust at the rig's CA alone while clients are built: awscrt otherwise parses the
    whole system store for every client (~6 ms each, ~0.4 ms this way; FIELD-NOTES)."""
    empty_dir.mkdir(parents=True, exist_ok=True)
    saved = {k: os.environ.get(k) for k in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    os.environ["SSL_CERT_FILE"], os.environ["SSL_CERT_DIR"] = str(ca), str(empty_dir)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
