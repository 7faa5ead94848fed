"""Alarm rules: conditions over the latest point values, fired on the rising edge.

An alarm fires when its condition becomes true and has stayed true for ``for`` (monotonic
clock); it fires once, then again only after the condition has been seen false. An unknown
condition (a point without a usable value: none yet, bad quality, a string) neither fires nor
clears an alarm, and restarts a ``for`` wait. Conditions are evaluated after each scan group
(each ``add``) on the latest value of every point they name.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from edge_agent.aggregate.config import AlarmRule
from edge_agent.aggregate.expr import Condition, ExpressionError, compile_condition
from edge_agent.envelope import Quality, Reading, Value
from edge_agent.errors import ConfigError
from edge_agent.metrics import Counters

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FiredAlarm:
    """One firing: the ``alarms`` entry of an alarm batch, and the values it saw."""

    name: str
    message: str
    t: int
    values: dict[str, Value | None] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "message": self.message, "t": self.t, "values": dict(self.values)}


def alarm_problems(rules: Sequence[AlarmRule], points: Collection[str]) -> list[str]:
    """Every problem of the alarm rules as ``alarms[i].field: message`` (empty when all is well):
    conditions that do not compile, names that are not configured points, duplicate names."""
    return _compile(rules, points)[1]


def compile_alarms(rules: Sequence[AlarmRule], points: Collection[str]) -> list[tuple[AlarmRule, Condition]]:
    """Compile every rule once; raise :class:`ConfigError` listing every problem."""
    compiled, problems = _compile(rules, points)
    if problems:
        raise ConfigError("alarms", problems)
    return compiled


def _compile(rules: Sequence[AlarmRule], points: Collection[str]
             ) -> tuple[list[tuple[AlarmRule, Condition]], list[str]]:
    compiled: list[tuple[AlarmRule, Condition]] = []
    problems: list[str] = []
    seen = Counter(rule.name for rule in rules)
    for i, rule in enumerate(rules):
        if seen[rule.name] > 1:
            problems.append(f"alarms[{i}].name: {rule.name!r} is used {seen[rule.name]} times")
        try:
            condition = compile_condition(rule.when)
        except ExpressionError as exc:
            problems.append(f"alarms[{i}].when: {exc}")
            continue
        unknown = sorted(condition.names - set(points))
        problems += [f"alarms[{i}].when: unknown point {name!r}" for name in unknown]
        compiled.append((rule, condition))
    return compiled, problems


class _Alarm:
    __slots__ = ("active", "condition", "pending_since", "pending_t", "rule")

    def __init__(self, rule: AlarmRule, condition: Condition) -> None:
        self.rule = rule
        self.condition = condition
        self.active = False
        self.pending_since: float | None = None
        """Monotonic time the condition became true, while waiting out ``for``."""
        self.pending_t = 0
        """Wall-clock ms of the reading that made the condition true."""


class AlarmBank:
    """Edge detection for every alarm rule of one agent."""

    def __init__(self, alarms: Iterable[tuple[AlarmRule, Condition]], counters: Counters) -> None:
        self._alarms = [_Alarm(rule, condition) for rule, condition in alarms]
        self._counters = counters
        self._watch: dict[str, list[_Alarm]] = {}
        for alarm in self._alarms:
            for name in alarm.condition.names:
                self._watch.setdefault(name, []).append(alarm)
        self._values: dict[str, Value | None] = {}
        self._times: dict[str, int] = {}

    def observe(self, readings: Iterable[Reading], now: float) -> list[FiredAlarm]:
        """Update the latest values from a scan group and evaluate the alarms that read them."""
        watch = self._watch
        touched: dict[int, _Alarm] = {}
        for r in readings:
            alarms = watch.get(r.point)
            if alarms is None:
                continue
            if r.t >= self._times.get(r.point, r.t):
                v = r.v
                usable = r.q != Quality.BAD and isinstance(v, int | float)
                self._values[r.point] = v if usable else None
                self._times[r.point] = r.t
            for alarm in alarms:
                touched[id(alarm)] = alarm
        fired: list[FiredAlarm] = []
        for alarm in touched.values():
            self._evaluate(alarm, now, fired)
        return fired

    def due(self, now: float) -> list[FiredAlarm]:
        """Alarms whose condition has now held for their ``for``."""
        fired: list[FiredAlarm] = []
        for alarm in self._alarms:
            since = alarm.pending_since
            if since is not None and now >= since + alarm.rule.for_:
                self._fire(alarm, fired)
        return fired

    def deadline(self) -> float | None:
        """Monotonic time at which the next pending alarm fires if its condition still holds."""
        times = [a.pending_since + a.rule.for_ for a in self._alarms if a.pending_since is not None]
        return min(times, default=None)

    def _evaluate(self, alarm: _Alarm, now: float, fired: list[FiredAlarm]) -> None:
        state = alarm.condition.evaluate(self._values)
        if state is None:
            alarm.pending_since = None
        elif not state:
            alarm.pending_since = None
            if alarm.active:
                alarm.active = False
                self._counters.inc("alarms_cleared")
                log.info("alarm_cleared", extra={"alarm": alarm.rule.name})
        elif not alarm.active:
            if alarm.pending_since is None:
                alarm.pending_since = now
                alarm.pending_t = max((self._times[n] for n in alarm.condition.names if n in self._times),
                                      default=0)
            if now >= alarm.pending_since + alarm.rule.for_:
                self._fire(alarm, fired)

    def _fire(self, alarm: _Alarm, fired: list[FiredAlarm]) -> None:
        rule = alarm.rule
        alarm.active = True
        alarm.pending_since = None
        values = {name: self._values.get(name) for name in sorted(alarm.condition.names)}
        firing = FiredAlarm(name=rule.name, message=rule.message or rule.when,
                            t=alarm.pending_t + round(rule.for_ * 1000), values=values)
        fired.append(firing)
        self._counters.inc("alarms_fired")
        log.info("alarm_fired", extra={"alarm": rule.name, "t": firing.t, "values": values})
