"""What a spool reports about itself: depth, size, age and its loss counters."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SpoolStats:
    """A point-in-time view of a spool (``Spool.stats()``)."""

    depth: int
    """Batches stored and not yet acknowledged (in flight included)."""
    bytes: int
    """Payload bytes of those batches."""
    oldest_age: float | None
    """Seconds since the oldest stored batch was put; None when empty."""
    dropped: int
    """Batches dropped since the spool was created (persisted): by the size cap, ``max_age``, a full
    disk, or lost with the write-ahead log."""
    rejected: int
    """Batches the sink refused for good (``Rejected``), persisted."""
    last_acked_seq: int
    """Highest seq acknowledged (deleted after delivery); 0 when none."""
    in_flight: int
    """Batches taken and not yet acknowledged."""
    disk_full: int = 0
    """Of ``dropped``: batches refused because the disk was full (persisted)."""
