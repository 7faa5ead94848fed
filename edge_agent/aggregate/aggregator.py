"""The aggregator: readings in, envelopes out (raw bundles, windows, deadband reports, alarms).

Pure logic, no I/O: the caller passes the monotonic time ``now`` to every call, calls
:meth:`Aggregator.tick` when :meth:`Aggregator.next_deadline` comes, and hands the returned
batches to the spool in order. The wall clock (window boundaries, heartbeat timestamps) is read
from an injectable :class:`~edge_agent.clock.Clock`.

A step of the wall clock (more than a second off the monotonic clock's progress between two
calls) is logged and counted (``clock_steps``); the open windows close as they are, the open
batch closes so that no batch spans the step, and windows start afresh on the new clock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from edge_agent.aggregate.alarms import AlarmBank, FiredAlarm, compile_alarms
from edge_agent.aggregate.batcher import Batcher
from edge_agent.aggregate.config import AggregationConfig, AlarmRule, BatchingConfig
from edge_agent.aggregate.deadband import DeadbandFilter
from edge_agent.aggregate.modes import PointMode, default_mode, resolve_point_modes
from edge_agent.aggregate.outages import BadReadings, DeviceStates
from edge_agent.aggregate.outbox import EnvelopeHeader, Outbox
from edge_agent.aggregate.windows import WindowBank
from edge_agent.clock import Clock, StepDetector, SystemClock
from edge_agent.envelope import Batch, Quality, Reading
from edge_agent.metrics import Counters

if TYPE_CHECKING:
    from edge_agent.config import AgentConfig

log = logging.getLogger(__name__)

_Route = Callable[[Reading, float], None]


class Aggregator:
    """Turns the readings of one thing into numbered batches (``seq`` from ``next_seq`` on).

    Raises :class:`~edge_agent.errors.ConfigError` when an alarm condition does not compile or
    names a point that is not in ``point_modes``. Points not in ``point_modes`` are reported in
    the default mode of ``aggregation``. ``clock`` supplies the wall clock (default: the host's).
    """

    def __init__(self, thing: str, site: str, asset_type: str, point_modes: Mapping[str, PointMode],
                 aggregation: AggregationConfig, batching: BatchingConfig, alarms: Sequence[AlarmRule],
                 epoch: str, next_seq: int, *, clock: Clock | None = None) -> None:
        self.counters = Counters()
        self._clock = clock or SystemClock()
        self._outbox = Outbox(EnvelopeHeader(thing, site, asset_type, epoch, compact=batching.form == "compact"),
                              next_seq)
        self._batcher = Batcher(self._outbox, batching, self.counters)
        self._windows = WindowBank(max(1, round(aggregation.window * 1000)),
                                   round(aggregation.lateness * 1000), self.counters)
        default = default_mode(aggregation)
        bands = {p: m.deadband for p, m in point_modes.items() if m.deadband is not None}
        self._deadband = DeadbandFilter(bands, default.deadband, self.counters)
        self._alarms = AlarmBank(compile_alarms(alarms, point_modes.keys()), self.counters)
        self._bad = BadReadings(aggregation.bad_heartbeat, self.counters)
        self._devices = DeviceStates(aggregation.bad_heartbeat)
        self._has_alarms = bool(alarms)
        routes: dict[str, _Route] = {"raw": self._batcher.add_reading, "window": self._add_windowed,
                                     "deadband": self._add_deadband}
        self._routes = {point: routes[m.mode] for point, m in point_modes.items()}
        self._default_route = routes[default.mode]
        self._steps = StepDetector()
        self._wall_ms = self._clock.wall_ms()
        self._now = 0.0
        """Both clocks as read by the latest call, for :meth:`next_deadline`."""

    @classmethod
    def from_config(cls, config: AgentConfig, *, epoch: str, next_seq: int,
                    clock: Clock | None = None) -> Aggregator:
        """The aggregator of an agent: modes of every configured point, its batching and alarms."""
        return cls(config.thing, config.site, config.asset_type,
                   resolve_point_modes(config.devices, config.aggregation), config.aggregation,
                   config.batching, config.alarms, epoch, next_seq, clock=clock)

    @property
    def next_seq(self) -> int:
        """The seq the next batch will carry."""
        return self._outbox.next_seq

    def add(self, readings: Sequence[Reading], now: float) -> list[Batch]:
        """Take one scan group (the readings of one source); return the batches it completed
        (alarms go out at once). Faults are reported on change (see :mod:`.outages`)."""
        self._advance(now)
        self.counters.inc("readings_in", len(readings))
        down, state = self._devices.observe(readings, now)
        if state is not None:
            if down:  # no heartbeats of stale values while the device is down
                self._deadband.forget(r.point for r in readings)
            self.counters.inc("device_states")
            self._batcher.add_reading(state, now)
        if down:
            self.counters.inc("down_suppressed", len(readings))
        else:
            self._route(readings, now)
        if self._has_alarms:
            self._post_alarms(self._alarms.observe(readings, now))
        return self._outbox.take()

    def tick(self, now: float) -> list[Batch]:
        """Close the windows and batches whose time has come; send due heartbeats and alarms."""
        self._advance(now)
        return self._outbox.take()

    def next_deadline(self) -> float | None:
        """Monotonic time at which :meth:`tick` must next be called (None: nothing pending)."""
        deadlines = (self._batcher.deadline(), self._windows.deadline(self._wall_ms, self._now),
                     self._deadband.deadline(), self._alarms.deadline())
        return min((d for d in deadlines if d is not None), default=None)

    def flush(self, now: float) -> list[Batch]:
        """Shutdown: close every open window (partial ones included) and emit everything held.

        Readings held back by a deadband and alarms still waiting out ``for`` are not sent. An
        aggregator started after a flush (restart, reconfiguration) opens the current window
        afresh, so that window arrives in two parts (two batches, each with its share of ``n``)."""
        self._advance(now)
        for window in self._windows.close_all():
            self._batcher.add_window(window, now)
        self._batcher.close()
        return self._outbox.take()

    def _advance(self, now: float) -> None:
        self._now = now
        self._wall_ms = wall = self._clock.wall_ms()
        # Both clocks read together: ``now`` may have been read before the caller's last await.
        step = self._steps.check(wall, self._clock.monotonic())
        if step:
            self._restart_windows(step, wall, now)
        self._batcher.expire(now)
        for window in self._windows.close_due(wall, now):
            self._batcher.add_window(window, now)
        for reading in self._deadband.heartbeats_due(wall, now):
            self._batcher.add_reading(reading, now)
        if self._has_alarms:
            self._post_alarms(self._alarms.due(now))

    def _restart_windows(self, step: int, wall: int, now: float) -> None:
        """The wall clock stepped by ``step`` ms: emit what was gathered before it on its own."""
        self.counters.inc("clock_steps")
        log.warning("wall_clock_step", extra={"step_ms": step, "wall_ms": wall})
        for window in self._windows.restart(wall):
            self._batcher.add_window(window, now)
        self._batcher.close()

    def _route(self, readings: Sequence[Reading], now: float) -> None:
        routes, default, bad = self._routes, self._default_route, self._bad
        bad_points, bad_q = bad.points, Quality.BAD
        for r in readings:
            if r.q == bad_q:
                if not bad.offer(r, now):
                    continue
            elif bad_points and r.point in bad_points:
                bad.clear(r.point)
            routes.get(r.point, default)(r, now)

    def _add_windowed(self, r: Reading, now: float) -> None:
        if self._windows.add(r, now):
            self._batcher.add_reading(r, now)

    def _add_deadband(self, r: Reading, now: float) -> None:
        if self._deadband.offer(r, now):
            self._batcher.add_reading(r, now)

    def _post_alarms(self, fired: list[FiredAlarm]) -> None:
        """One urgent batch for the alarms that fired together, with the values they saw."""
        if not fired:
            return
        last = {name: value for alarm in fired for name, value in alarm.values.items()}
        times = [alarm.t for alarm in fired]
        self._outbox.post(self._outbox.draft(start=min(times), end=max(times), last=last,
                                             alarms=tuple(alarm.to_json() for alarm in fired)))
        self.counters.inc("alarm_batches")
