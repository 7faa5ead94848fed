"""Tumbling windows aligned to wall-clock boundaries: ``[k*w, (k+1)*w)`` in epoch ms.

Rules (the envelope's window fields are ``n, min, max, avg, first, last, q``):

* A reading belongs to the window of its own timestamp ``t``; one at exactly ``k*w`` opens window k.
* Good and uncertain numbers are aggregated: ``n`` counts them, ``min``/``max``/``avg`` are over
  them, ``first``/``last`` are the values with the earliest and latest ``t``; the window's ``q``
  is uncertain if any of them was. Booleans count as 0/1 in ``min``/``max``/``avg`` and keep
  their own values in ``first``/``last``.
* Bad readings are never averaged in: they travel raw (with their status code) and are counted
  in ``bad_readings``. A window that saw only bad readings is still emitted, with ``n`` 0,
  ``q`` bad and null numbers, so a gap is visible in the windowed series.
* Strings, missing values and NaN/infinities cannot be aggregated: they travel raw
  (``not_aggregable``).
* Window k closes once the wall clock reaches ``(k+1)*w + lateness``. So that a wall clock
  stepped backward cannot hold a window open, it also closes at the latest ``2*w + lateness``
  after it opened, on the monotonic clock (a window may open up to one width before it starts,
  see below, so a shorter bound would cut windows short while the clocks agree).
* A reading stamped more than one window ahead of the wall clock is not windowed (it travels
  raw, ``future_readings``): one bogus timestamp must not open, and so close, a window early.
* A window is emitted once. A reading for a window that has closed, or whose close time the
  wall clock has already passed (late, or stamped before a backward clock step), travels raw
  and is counted in ``late_readings``: nothing is lost.
* When the wall clock steps (see :meth:`WindowBank.restart`, called by the aggregator), every open
  window closes as it is and windows start afresh on the new clock. After a backward step the
  windows of the repeated stretch of time are emitted a second time, with the readings stamped
  after the step.
"""

from __future__ import annotations

import math
from typing import Final

from edge_agent.envelope import Quality, Reading, Value, Window
from edge_agent.metrics import Counters

_NAN: Final = math.nan
_BEFORE_ALL: Final = -(1 << 62)
_AFTER_ALL: Final = 1 << 62


class _Tally:
    """Running aggregate of one point in one window."""

    __slots__ = ("first", "first_t", "hi", "last", "last_t", "lo", "n", "q", "total")

    def __init__(self) -> None:
        self.n = 0
        self.lo: float = _NAN
        self.hi: float = _NAN
        self.total: float = 0
        self.first: Value = _NAN
        self.first_t = 0
        self.last: Value = _NAN
        self.last_t = 0
        self.q = Quality.BAD

    def add(self, t: int, v: Value, x: float, q: Quality) -> None:
        if self.n == 0:
            self.lo = self.hi = x
            self.first = self.last = v
            self.first_t = self.last_t = t
            self.q = q
        else:
            if x < self.lo:
                self.lo = x
            elif x > self.hi:
                self.hi = x
            if t < self.first_t:
                self.first, self.first_t = v, t
            if t >= self.last_t:
                self.last, self.last_t = v, t
            if q > self.q:
                self.q = q
        self.total += x
        self.n += 1

    def window(self, point: str, start: int, width: int) -> Window:
        n = self.n
        return Window(point=point, t=start, w=width, n=n, min=self.lo, max=self.hi,
                      avg=self.total / n if n else _NAN, first=self.first, last=self.last, q=self.q)


class _Bucket:
    """Every point's tally for one window index, and when the window closes on either clock."""

    __slots__ = ("backstop", "tallies", "wall_close")

    def __init__(self, wall_close: int, backstop: float) -> None:
        self.wall_close = wall_close
        self.backstop = backstop
        self.tallies: dict[str, _Tally] = {}


class WindowBank:
    """The open windows of every point in window mode."""

    def __init__(self, width_ms: int, lateness_ms: int, counters: Counters) -> None:
        if width_ms <= 0:
            raise ValueError("window width must be positive")
        self._w = width_ms
        self._lateness = lateness_ms
        self._backstop = (2 * width_ms + lateness_ms) / 1000
        self._counters = counters
        self._open: dict[int, _Bucket] = {}
        self._horizon = _BEFORE_ALL
        """Every window index below this has closed (or will never open again)."""
        self._newest = _AFTER_ALL
        """The highest window index a reading may open: the wall clock's next window."""
        self._next_wall_close = _AFTER_ALL
        self._next_backstop = math.inf
        """The earliest close among open windows, on each clock (checked on every call)."""

    @property
    def width_ms(self) -> int:
        return self._w

    def add(self, r: Reading, now: float) -> bool:
        """Take a reading; True when it must also travel raw (bad, late or not aggregable)."""
        k = r.t // self._w
        bucket = self._open.get(k)
        if bucket is None:
            if k < self._horizon:
                self._counters.inc("late_readings")
                return True
            if k > self._newest:
                self._counters.inc("future_readings")
                return True
            bucket = self._open[k] = _Bucket((k + 1) * self._w + self._lateness, now + self._backstop)
            self._next_wall_close = min(self._next_wall_close, bucket.wall_close)
            self._next_backstop = min(self._next_backstop, bucket.backstop)
        v = r.v
        if r.q == Quality.BAD:
            self._counters.inc("bad_readings")
            if r.point not in bucket.tallies:
                bucket.tallies[r.point] = _Tally()
            return True
        if isinstance(v, bool):
            x: float = 1 if v else 0
        elif isinstance(v, float):
            if not math.isfinite(v):
                self._counters.inc("not_aggregable")
                return True
            x = v
        elif isinstance(v, int):
            x = v
        else:
            self._counters.inc("not_aggregable")
            return True
        tally = bucket.tallies.get(r.point)
        if tally is None:
            tally = bucket.tallies[r.point] = _Tally()
        tally.add(r.t, v, x, r.q)
        return False

    def close_due(self, wall_ms: int, now: float) -> list[Window]:
        """Close every window whose end (plus lateness) the wall clock has reached, and every
        window open for longer than twice its width (plus lateness) on the monotonic clock."""
        self._newest = wall_ms // self._w + 1
        self._horizon = max(self._horizon, (wall_ms - self._lateness) // self._w)
        if wall_ms < self._next_wall_close and now < self._next_backstop:
            return []
        return self._close([k for k, b in self._open.items() if b.wall_close <= wall_ms or now >= b.backstop])

    def close_all(self) -> list[Window]:
        """Close every open window now (shutdown): partial windows are emitted as they are."""
        return self._close(list(self._open))

    def restart(self, wall_ms: int) -> list[Window]:
        """The wall clock stepped to ``wall_ms``: close every open window (partial ones as they
        are) and accept readings from the new clock's current window on, in either direction."""
        closed = self.close_all()
        self._horizon = (wall_ms - self._lateness) // self._w
        self._newest = wall_ms // self._w + 1
        return closed

    def deadline(self, wall_ms: int, now: float) -> float | None:
        """Monotonic time at which the next window closes, given the clocks read together."""
        if not self._open:
            return None
        return min(now + (self._next_wall_close - wall_ms) / 1000, self._next_backstop)

    def _close(self, indexes: list[int]) -> list[Window]:
        closed: list[Window] = []
        w = self._w
        for k in sorted(indexes):
            bucket = self._open.pop(k)
            self._horizon = max(self._horizon, k + 1)
            closed.extend(t.window(point, k * w, w) for point, t in bucket.tallies.items())
        self._next_wall_close = min((b.wall_close for b in self._open.values()), default=_AFTER_ALL)
        self._next_backstop = min((b.backstop for b in self._open.values()), default=math.inf)
        return closed
