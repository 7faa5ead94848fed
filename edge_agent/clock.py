"""The two clocks of the edge: monotonic seconds for scheduling, wall-clock ms for timestamps.

Scheduling (poll cycles, flush deadlines, heartbeats) must not move when NTP steps the wall
clock; timestamps and window boundaries must follow it. Components take a :class:`Clock` so
tests and the fleet simulator can drive both by hand with :class:`ManualClock`.
"""

from __future__ import annotations

import math
import time
from typing import Protocol


class Clock(Protocol):
    """Where a component reads the time."""

    def monotonic(self) -> float:
        """Seconds on a clock that never steps (only differences are meaningful)."""
        ...

    def wall_ms(self) -> int:
        """Milliseconds since the Unix epoch, UTC; may step forward or backward."""
        ...


class SystemClock:
    """The host's clocks: :func:`time.monotonic` and :func:`time.time_ns`."""

    __slots__ = ()

    def monotonic(self) -> float:
        return time.monotonic()

    def wall_ms(self) -> int:
        return time.time_ns() // 1_000_000


class ManualClock:
    """A clock that moves only when told to: :meth:`advance` moves both clocks together,
    :meth:`step_wall` moves the wall clock alone (an NTP step)."""

    __slots__ = ("_monotonic", "_wall_ms")

    def __init__(self, wall_ms: int = 0, monotonic: float = 0.0) -> None:
        self._wall_ms = float(wall_ms)
        self._monotonic = monotonic

    def monotonic(self) -> float:
        return self._monotonic

    def wall_ms(self) -> int:
        return math.floor(self._wall_ms)

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` of real time pass."""
        if seconds < 0:
            raise ValueError("time cannot run backward; use step_wall for a wall-clock step")
        self._monotonic += seconds
        self._wall_ms += seconds * 1000

    def step_wall(self, delta_ms: int) -> None:
        """Step the wall clock by ``delta_ms`` (either sign) without time passing."""
        self._wall_ms += delta_ms


class StepDetector:
    """Notices a wall-clock step (NTP correction, a modem booting with a wrong clock) by comparing
    how far the wall clock moved with how far the monotonic clock moved since the last check.

    A difference of ``tolerance_ms`` or less is taken as jitter between the two reads (and NTP's
    slewing, which adjusts the rate by at most 500 ppm and so never adds up to a step)."""

    __slots__ = ("_now", "_tolerance", "_wall")

    def __init__(self, tolerance_ms: int = 1000) -> None:
        self._tolerance = tolerance_ms
        self._wall: int | None = None
        self._now = 0.0

    def check(self, wall_ms: int, now: float) -> int:
        """The step (ms, either sign) the wall clock took since the last check; 0 when none."""
        last_wall, last_now = self._wall, self._now
        self._wall, self._now = wall_ms, now
        if last_wall is None:
            return 0
        step = wall_ms - last_wall - round((now - last_now) * 1000)
        return step if abs(step) > self._tolerance else 0
