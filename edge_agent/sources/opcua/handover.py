"""The bounded hand-over between the OPC-UA connection and ``scans()``, and the repeat filter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from edge_agent.envelope import Quality, Reading, Value
from edge_agent.metrics import Counters

Scan = Sequence[Reading]


class ScanQueue:
    """A bounded queue of scans. Notifications are offered without waiting (the publish loop
    must not block) and dropped, counted in ``queue_drops`` (readings), when it is full; poll
    cycles wait for room, which is the back-pressure a poller can take."""

    def __init__(self, maxsize: int, counters: Counters) -> None:
        self._queue: asyncio.Queue[Scan | None] = asyncio.Queue(maxsize)
        self._counters = counters
        self._closed = False

    def offer(self, scan: Scan) -> None:
        if not scan:
            return
        try:
            self._queue.put_nowait(scan)
        except asyncio.QueueFull:
            self._counters.inc("queue_drops", len(scan))

    async def put(self, scan: Scan) -> None:
        if scan:
            await self._queue.put(scan)

    def close(self) -> None:
        """End ``scans()`` once what is queued has been taken."""
        self._closed = True
        if not self._queue.full():
            self._queue.put_nowait(None)

    async def scans(self) -> AsyncIterator[Scan]:
        while not (self._closed and self._queue.empty()):
            scan = await self._queue.get()
            if scan is None:
                return
            yield scan


class RepeatFilter:
    """Drops samples already delivered, counted in ``duplicates``. Within one session, a sample no
    newer (source time) than the newest delivered for its point: the initial notification of a
    new monitored item repeats the re-read. Across sessions, only an exact repeat (time, value,
    quality) of the last sample delivered: the value did not change while the link was down. A
    server whose clock went back while it restarted is thus not mistaken for a stream of repeats."""

    def __init__(self, counters: Counters) -> None:
        self._last: dict[str, tuple[int, Value | None, Quality]] = {}
        self._newest: dict[str, int] = {}
        self._counters = counters

    def new_session(self) -> None:
        self._newest.clear()

    def fresh(self, scan: Scan) -> list[Reading]:
        out = []
        for r in scan:
            sample = (r.t, r.v, r.q)
            newest = self._newest.get(r.point)
            if (newest is not None and r.t <= newest) or self._last.get(r.point) == sample:
                self._counters.inc("duplicates")
                continue
            self._last[r.point] = sample
            self._newest[r.point] = r.t
            out.append(r)
        return out
