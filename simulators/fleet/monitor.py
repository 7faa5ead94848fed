"""The fleet's vital signs over time: one :class:`FleetSample` per sampling interval."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import psutil

from simulators.fleet.clock import FleetClock
from simulators.fleet.ledger import Ledger
from simulators.fleet.trailer import Trailer


@dataclass(frozen=True, slots=True)
class FleetSample:
    t: float
    """Seconds since the fleet started."""
    connected: int
    offline: int
    """Trailers in a dead zone."""
    spooled: int
    """Batches waiting in spools (not yet acknowledged by the broker)."""
    in_flight: int
    acked: int
    connects: int
    """Successful connections so far (first connects and reconnects)."""
    connects_per_s: float
    received: int
    duplicates: int
    scan_lateness: float
    """Worst delay of the fleet clock in this interval (seconds): > 0 means the process is behind."""
    cpu: float
    """Cores used by this process over the interval (1.0 = one core)."""
    rss_mb: float
    phase: str = "run"
    """``start`` (connecting), ``run``, ``storm`` (broker away or fleet coming back) or ``end``."""

    def to_json(self) -> dict[str, Any]:
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(self).items()}


class Monitor:
    """Takes samples of a running fleet; cheap enough to run every second over 8,000 trailers."""

    def __init__(self, trailers: Sequence[Trailer], clock: FleetClock, ledger: Ledger) -> None:
        self._trailers = trailers
        self._clock = clock
        self._ledger = ledger
        self._process = psutil.Process(os.getpid())
        self._started = time.monotonic()
        self._last_t = 0.0
        self._last_cpu = self._cpu()
        self._last_connects = 0
        self.phase = "start"
        self.samples: list[FleetSample] = []

    def _cpu(self) -> float:
        times = self._process.cpu_times()
        return float(times.user + times.system)

    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def sample(self) -> FleetSample:
        connected = offline = spooled = in_flight = acked = connects = 0
        for trailer in self._trailers:
            link = trailer.link
            if not link.online:
                offline += 1
            elif link.connected:
                connected += 1
            counters = link.counters
            connects += counters.get("connects")
            acked += counters.get("acked")
            in_flight += int(counters.snapshot().get("in_flight", 0))
            spooled += trailer.spool.stats().depth
        t = self.elapsed()
        cpu = self._cpu()
        dt = max(1e-6, t - self._last_t)
        lateness = self._clock.lateness
        sample = FleetSample(
            t=t, connected=connected, offline=offline, spooled=spooled, in_flight=in_flight, acked=acked,
            connects=connects, connects_per_s=(connects - self._last_connects) / dt,
            received=self._ledger.received, duplicates=self._ledger.duplicates,
            scan_lateness=max(lateness, default=0.0), cpu=(cpu - self._last_cpu) / dt,
            rss_mb=self._process.memory_info().rss / 2**20, phase=self.phase)
        lateness.clear()
        self._last_t, self._last_cpu, self._last_connects = t, cpu, connects
        self.samples.append(sample)
        return sample
