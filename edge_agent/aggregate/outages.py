"""Faults cost nothing while they last: bad readings and unreachable devices are reported on change.

A polled device that does not answer gives a bad reading of every point on every poll; sent raw,
they cost more IoT messages than the healthy device. Instead:

* A bad reading is reported when its point turns bad or its code changes, then again every
  ``bad_heartbeat`` seconds while the point stays bad (0: never); the repeats in between are
  dropped and counted in ``bad_suppressed``. A reading that is not bad ends the point's fault.
* A scan whose every reading is bad with a code that says the device did not answer (see
  :data:`~edge_agent.sources.status.UNREACHABLE`: timed out, disconnected) means the device is
  down. Its readings are not reported at all (``down_suppressed`` counts them); the device's
  state record is, when the device goes down and then every ``bad_heartbeat``: a reading of the
  point ``<device>:state`` (:func:`state_point`) with ``v`` ``"down"``, quality bad and the cause
  in ``code`` (the first request's fault), stamped with the scan's time. The cause may change
  from poll to poll while the device stays down (a PLC that accepts connections but does not
  answer times out, then is disconnected): only the state counts as a change. When the device
  gives anything else again, the record ``"up"`` (quality good) is reported once, before that
  scan's readings.

The state record is an ordinary reading of the envelope (``edgeferry.batch/1``), not an alarm:
it rides in the next telemetry batch (no message of its own), keeps its place in seq order
among the device's data, reaches every store that keeps readings, and shows in ``last``, so a
rule can say ``WHERE get(last, 'plc:state') = 'down'``. Only changes seen by the running agent
are reported: a device first seen up after a restart gets no ``"up"`` record.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from edge_agent.envelope import Quality, Reading
from edge_agent.metrics import Counters
from edge_agent.sources.status import UNREACHABLE

DOWN: Final = "down"
UP: Final = "up"


def state_point(device: str) -> str:
    """The point name of a device's state record (``plc`` -> ``plc:state``)."""
    return f"{device}:state"


class BadReadings:
    """Which points are bad, with which code, and when their bad reading was last reported."""

    __slots__ = ("_counters", "_heartbeat", "points")

    def __init__(self, heartbeat: float, counters: Counters) -> None:
        self._heartbeat = heartbeat
        self._counters = counters
        self.points: dict[str, tuple[int | None, float]] = {}
        """Point -> (code, monotonic time reported) of every point now bad."""

    def offer(self, r: Reading, now: float) -> bool:
        """Take a bad reading; True when it is to be reported."""
        last = self.points.get(r.point)
        if last is not None and last[0] == r.code and (self._heartbeat <= 0 or now < last[1] + self._heartbeat):
            self._counters.inc("bad_suppressed")
            return False
        self.points[r.point] = (r.code, now)
        return True

    def clear(self, point: str) -> None:
        """The point is no longer bad."""
        self.points.pop(point, None)


class DeviceStates:
    """Tells from each scan whether its device is down, and when its state record is due."""

    __slots__ = ("_down", "_heartbeat")

    def __init__(self, heartbeat: float) -> None:
        self._heartbeat = heartbeat
        self._down: dict[str, float] = {}
        """Device -> monotonic time its ``down`` record was last reported."""

    def observe(self, scan: Sequence[Reading], now: float) -> tuple[bool, Reading | None]:
        """Whether the scan's device is down, and the state record to report now, if any."""
        if not scan:
            return False, None
        first = scan[0]
        device = first.device
        if all(r.q == Quality.BAD and r.code in UNREACHABLE and r.device == device for r in scan):
            since = self._down.get(device)
            if since is not None and (self._heartbeat <= 0 or now < since + self._heartbeat):
                return True, None
            self._down[device] = now
            # The first request's fault is the cause: a device that does not answer times out
            # first, and the client then drops the connection for the requests after it.
            t = max(r.t for r in scan)
            return True, Reading(device, state_point(device), t, DOWN, Quality.BAD, first.code)
        if self._down.pop(device, None) is not None:
            return False, Reading(device, state_point(device), first.t, UP)
        return False, None
