"""A fixed-rate schedule on the monotonic clock: no drift, no overlap, skipped cycles counted."""

from __future__ import annotations

import math
import time


class PollSchedule:
    """Cycle ``k`` is due at ``start + k * interval``. A cycle that is already past when the previous
    one ends is skipped, not run late in a burst: :meth:`advance` says how many were skipped."""

    __slots__ = ("_due", "interval")

    def __init__(self, interval: float, start: float | None = None) -> None:
        if interval <= 0:
            raise ValueError("the poll interval must be positive")
        self.interval = interval
        self._due = time.monotonic() if start is None else start

    @property
    def due(self) -> float:
        """Monotonic time the next cycle is due."""
        return self._due

    def advance(self, now: float | None = None) -> int:
        """Move to the next cycle after ``now``; return the number of cycles skipped on the way."""
        now = time.monotonic() if now is None else now
        self._due += self.interval
        if now <= self._due:
            return 0
        skipped = math.ceil((now - self._due) / self.interval)
        self._due += skipped * self.interval
        return skipped

    def delay(self, now: float | None = None) -> float:
        """Seconds until the next cycle is due (zero when it is due already)."""
        return max(0.0, self._due - (time.monotonic() if now is None else now))
