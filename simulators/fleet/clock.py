"""One clock for the whole fleet: a single loop wakes every trailer's controller at its phase.

Thousands of trailers that each sleep in their own loop cost one timer and one task wake-up per
trailer per report; here one loop wakes once per ``resolution`` and calls the subscribers whose
phase falls in that slot. Trailers get phases spread over the period, so scans (and the batches
that follow) arrive evenly rather than in one burst.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

Subscriber = Callable[[float], None]
"""Called with the wall-clock time (seconds since the epoch) of the scan it is due."""


class FleetClock:
    """Calls each subscriber once per ``period`` at its ``phase`` (seconds into the period)."""

    def __init__(self, period: float, *, resolution: float = 0.1) -> None:
        if period <= 0:
            raise ValueError("the period must be positive")
        self.period = period
        self.slots = max(1, round(period / min(resolution, period)))
        self.resolution = period / self.slots
        self._buckets: list[dict[int, Subscriber]] = [{} for _ in range(self.slots)]
        self._slot_of: dict[int, int] = {}
        self._next_id = 0
        self.origin = time.time()
        """Wall-clock time the clock was made (models may run faster from here)."""
        self.lateness: list[float] = []
        """How late each slot was served (seconds); the fleet samples and clears it."""
        self.ticks = 0

    def subscribe(self, phase: float, subscriber: Subscriber) -> int:
        """Register a subscriber; returns the handle to :meth:`unsubscribe` with."""
        slot = int((phase % self.period) / self.resolution) % self.slots
        handle = self._next_id
        self._next_id += 1
        self._buckets[slot][handle] = subscriber
        self._slot_of[handle] = slot
        return handle

    def unsubscribe(self, handle: int) -> None:
        slot = self._slot_of.pop(handle, None)
        if slot is not None:
            self._buckets[slot].pop(handle, None)

    def __len__(self) -> int:
        return len(self._slot_of)

    async def run(self) -> None:
        """Serve the slots until cancelled; a late loop serves the slots it missed at once."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        wall_offset = time.time() - start
        k = 0
        while True:
            due = start + k * self.resolution
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            now = loop.time()
            self.lateness.append(max(0.0, now - due))
            for subscriber in list(self._buckets[k % self.slots].values()):
                subscriber(due + wall_offset)
            self.ticks += 1
            k += 1
