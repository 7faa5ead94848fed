"""Faults cost nothing while they last: bad readings and unreachable devices are reported on change.

A polled device that does not answer gives a bad reading of every point on every poll; sent raw,
they cost more IoT messages than the healthy device. Instead:

* A bad reading is reported when its point turns bad or its code changes, then again every
  ``bad_heartbeat`` seconds while the point stays bad (0: never); the repeats in between are
  dropped and counted in ``bad_suppressed``. A reading that is not bad ends the point's fault.
* A scan whose every reading is bad with one code that says the device did not answer (see
  :data:`~edge_agent.sources.status.UNREACHABLE`) means the device is down. Its readings are
  not reported at all; the device's state record is, on change and heartbeat like a bad reading:
  a reading of the point ``<device>:state`` (:func:`state_point`) with ``v`` ``"down"``, quality
  bad and the cause in ``code``, stamped with the scan's time. When the device gives anything
  else again, the record ``"up"`` (quality good) is reported once, before that scan's readings.

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
    """Tells from each scan whether its device is down (see the module docstring)."""

    __slots__ = ("_down",)

    def __init__(self) -> None:
        self._down: set[str] = set()

    def observe(self, scan: Sequence[Reading]) -> Reading | None:
        """The state record this scan calls for: ``down`` for every scan of a device that is down
        (the caller reports it on change), ``up`` for the first scan after that, else None."""
        if not scan:
            return None
        first = scan[0]
        code, device = first.code, first.device
        if first.q == Quality.BAD and code in UNREACHABLE \
                and all(r.code == code and r.q == Quality.BAD and r.device == device for r in scan):
            self._down.add(device)
            return Reading(device, state_point(device), max(r.t for r in scan), DOWN, Quality.BAD, code)
        if device in self._down:
            self._down.discard(device)
            return Reading(device, state_point(device), first.t, UP)
        return None
