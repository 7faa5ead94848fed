"""Which stored batches may be taken next: a priority order minus those in flight."""

from __future__ import annotations

import asyncio
import heapq
from typing import Generic, TypeVar

from edge_agent.spool.errors import SpoolClosed

K = TypeVar("K", bound=tuple[int, int])
"""(priority, position): alarms have priority 0, telemetry 1; position orders within each."""


class TakeQueue(Generic[K]):
    """Ready keys in order; a taken key is in flight until settled, discarded or requeued."""

    def __init__(self) -> None:
        self._heap: list[K] = []
        self._ready: set[K] = set()
        self._in_flight: set[K] = set()
        self._wakeup = asyncio.Event()
        self._closed = False

    @property
    def in_flight(self) -> frozenset[K]:
        return frozenset(self._in_flight)

    def add(self, key: K) -> None:
        """Make a stored key takeable (a no-op when it already is or is in flight)."""
        if key not in self._ready and key not in self._in_flight:
            self._ready.add(key)
            heapq.heappush(self._heap, key)
            self._wakeup.set()

    def discard(self, key: K) -> None:
        """Forget a key (deleted, dropped): it will not be taken."""
        self._ready.discard(key)
        self._in_flight.discard(key)

    def requeue(self, key: K) -> None:
        """Put a taken key back: it comes before every later key of its priority."""
        self._in_flight.discard(key)
        self.add(key)

    async def take(self) -> K:
        """Wait for the first ready key and mark it in flight."""
        while True:
            if self._closed:
                raise SpoolClosed("spool is closed")
            while self._heap:
                key = heapq.heappop(self._heap)
                if key in self._ready:
                    self._ready.remove(key)
                    self._in_flight.add(key)
                    return key
            self._wakeup.clear()
            await self._wakeup.wait()

    def close(self) -> None:
        """Wake every waiting ``take`` with :class:`SpoolClosed`."""
        self._closed = True
        self._wakeup.set()
