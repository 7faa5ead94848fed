"""A broker outage for the whole fleet: stop the rig, wait, start it again.

The cloud ledger stays attached throughout: its client reconnects by itself under the same client
id and rejoins its persistent MQTT5 session, which the rig broker saves when it stops (SIGTERM)
and restores at its start. The broker keeps the ledger's subscription and queues every batch it
acknowledges while the ledger is away, so nothing reaches nobody, as with IoT Core's rules engine.
The fleet may publish as soon as the broker is back: the moment ``rig.start()`` returns is the
broker's return.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cloud.rig import Rig
from simulators.fleet.trailer import Trailer

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Recovery:
    """How the fleet came back after the broker returned (times in seconds after the return)."""

    returned_at: float
    """Seconds into the run when the broker was back (``rig.start()`` returned)."""
    expected: int = 0
    back: list[float] = field(default_factory=list)
    """When each trailer was connected again (trailers in a dead zone are not waited for)."""
    drained_after: float | None = None
    backlog: int = 0
    """Trailers holding spooled batches when the broker returned."""
    outage: dict[str, float] = field(default_factory=dict)
    """Seconds each step of the outage took (stop, down, start)."""

    @property
    def all_back_after(self) -> float | None:
        return max(self.back) if self.back and len(self.back) >= self.expected else None

    def to_json(self) -> dict[str, Any]:
        ordered = sorted(self.back)
        return {
            "returned_at": round(self.returned_at, 2), "expected": self.expected, "back": len(self.back),
            "all_back_after": _round(self.all_back_after),
            "half_back_after": _round(ordered[len(ordered) // 2] if ordered else None),
            "drained_after": _round(self.drained_after), "backlog_trailers": self.backlog,
            "reconnects_per_second": _per_second(ordered), "outage": self.outage,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _per_second(times: list[float]) -> list[int]:
    """How many trailers came back in each second after the return."""
    if not times:
        return []
    counts = [0] * (int(max(times)) + 1)
    for t in times:
        counts[int(t)] += 1
    return counts


async def broker_outage(rig: Rig, down: float) -> dict[str, float]:
    """Stop the broker, wait ``down`` seconds and start it again. Returns how long each step took (s)."""
    steps: dict[str, float] = {}
    clock = time.monotonic
    began = clock()

    def lap(name: str) -> None:
        steps[name] = round(clock() - began - sum(steps.values()), 3)

    await asyncio.to_thread(rig.stop)
    lap("stop")
    await asyncio.sleep(down)
    lap("down")
    await asyncio.to_thread(rig.start)
    lap("start")
    logger.info("fleet_storm_broker_back", extra=steps)
    return steps


async def watch_recovery(trailers: Sequence[Trailer], recovery: Recovery, elapsed: Callable[[], float],
                         within: float, interval: float = 0.1) -> None:
    """Note when each trailer is connected again and when the backlog of spools has drained."""
    waiting = {i for i, t in enumerate(trailers) if t.link.online}
    backlog = {i for i, t in enumerate(trailers) if t.spool.stats().depth > 0}
    recovery.expected, recovery.backlog = len(waiting), len(backlog)
    deadline = recovery.returned_at + within
    while (waiting or backlog) and elapsed() < deadline:
        now = elapsed() - recovery.returned_at
        for i in list(waiting):
            link = trailers[i].link
            if link.connected:
                recovery.back.append(now)
                waiting.discard(i)
            elif not link.online:  # drove into a dead zone meanwhile: not waited for
                waiting.discard(i)
                recovery.expected -= 1
        backlog = {i for i in backlog if trailers[i].spool.stats().depth > 0}
        if not backlog and recovery.drained_after is None:
            recovery.drained_after = now
        await asyncio.sleep(interval)
