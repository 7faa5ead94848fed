"""Report by exception: a point is sent when it moves out of its deadband, or on a heartbeat.

Rules:

* The first reading of a point is always reported; later ones are compared with the last
  *reported* reading, so slow drift is reported once it adds up to a band.
* Numbers are reported when the change exceeds the band: ``absolute``, ``percent`` of the last
  reported value's magnitude, or — both set — the larger of the two (the absolute band is then
  a floor under the percent band near zero). Booleans, strings and missing values are reported
  when they differ; a change of quality or status code is always reported.
* Heartbeat: when nothing was reported for ``heartbeat`` seconds (monotonic), the latest reading
  is reported; if no newer reading has arrived since the last report, that value is re-sent
  stamped with the current wall-clock time (a subscription that reports only changes may stay
  silent for hours while the value holds). A heartbeat of 0 turns heartbeats off.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping

from edge_agent.envelope import Reading
from edge_agent.metrics import Counters
from edge_agent.sources.points import Deadband


class _Reported:
    """What a point last reported, and the latest reading seen since."""

    __slots__ = ("at", "band", "latest", "sent")

    def __init__(self, r: Reading, band: Deadband, now: float) -> None:
        self.sent = r
        self.latest = r
        self.at = now
        self.band = band


def exceeds_band(value: float, reference: float, band: Deadband) -> bool:
    """True when ``value`` is outside the deadband around ``reference``."""
    if not (math.isfinite(value) and math.isfinite(reference)):
        return not (value == reference or (math.isnan(value) and math.isnan(reference)))
    width = max(band.absolute or 0.0, (band.percent or 0.0) / 100 * abs(reference))
    return abs(value - reference) > width


def _changed(r: Reading, sent: Reading, band: Deadband) -> bool:
    if r.q != sent.q or r.code != sent.code:
        return True
    v, ref = r.v, sent.v
    if isinstance(v, int | float) and not isinstance(v, bool) \
            and isinstance(ref, int | float) and not isinstance(ref, bool):
        return exceeds_band(v, ref, band)
    return v != ref or type(v) is not type(ref)


class DeadbandFilter:
    """Decides which readings of deadband points are reported, and when heartbeats are due."""

    def __init__(self, bands: Mapping[str, Deadband], default: Deadband | None,
                 counters: Counters) -> None:
        self._bands = bands
        self._default = default
        self._counters = counters
        self._points: dict[str, _Reported] = {}
        self._heartbeats: list[tuple[float, str]] = []
        """At most one entry per point: when its heartbeat may be due (checked again when popped)."""
        self._scheduled: set[str] = set()
        """Points with an entry in ``_heartbeats``."""

    def offer(self, r: Reading, now: float) -> bool:
        """Take a reading; True when it is to be reported."""
        state = self._points.get(r.point)
        if state is None:
            band = self._bands.get(r.point, self._default)
            if band is None:
                raise ValueError(f"point {r.point!r} has no deadband")
            self._points[r.point] = _Reported(r, band, now)
            if band.heartbeat > 0 and r.point not in self._scheduled:
                self._scheduled.add(r.point)
                heapq.heappush(self._heartbeats, (now + band.heartbeat, r.point))
            return True
        if r.t >= state.latest.t:
            state.latest = r
        if _changed(r, state.sent, state.band):
            state.sent, state.at = r, now
            return True
        self._counters.inc("deadband_suppressed")
        return False

    def heartbeats_due(self, wall_ms: int, now: float) -> list[Reading]:
        """Readings to re-send because their point has been quiet for its heartbeat interval."""
        due: list[Reading] = []
        beats = self._heartbeats
        while beats and beats[0][0] <= now:
            _, point = heapq.heappop(beats)
            state = self._points.get(point)
            if state is None:  # forgotten
                self._scheduled.discard(point)
                continue
            next_beat = state.at + state.band.heartbeat
            if next_beat > now:
                heapq.heappush(beats, (next_beat, point))
                continue
            r = state.latest
            if r is state.sent and wall_ms > r.t:
                r = r._replace(t=wall_ms)
            state.sent = state.latest = r
            state.at = now
            due.append(r)
            heapq.heappush(beats, (now + state.band.heartbeat, point))
        if due:
            self._counters.inc("heartbeats", len(due))
        return due

    def forget(self, points: Iterable[str]) -> None:
        """Drop what these points last reported (their source is down): no heartbeats until their
        next reading, which is then reported as a first reading."""
        for point in points:
            self._points.pop(point, None)

    def deadline(self) -> float | None:
        """Monotonic time of the earliest possible heartbeat (may be early: then nothing is due)."""
        return self._heartbeats[0][0] if self._heartbeats else None
