"""Evaluating security profiles: datapoints per thing and behavior, alarms and clears.

Samples arrive from the broker's view (a message sent, an authorisation failure, a connect
attempt: count metrics) and from the devices' metrics reports (bytes and packets since the last
report; ports, connections, custom metrics: the latest value). At each :meth:`Detector.evaluate`
a behavior with ``durationSeconds`` takes the trailing window's sum (counts, bytes, packets), its
maximum (``aws:message-byte-size``) or its latest value (the rest); without a duration the latest
sample. The window slides with each evaluation, so a flood is seen at the next evaluation rather
than at the end of a fixed period (AWS's datapoints are per period; the rig answers sooner).

- ``value``: the datapoint against the given number, count or port set.
- ``statisticalThreshold``: the percentile (or average) of the same window's datapoints of every
  thing the profile has seen (CloudFormation ``AWS::IoT::SecurityProfile StatisticalThreshold``:
  "collected over the specified period from all reporting devices ... the measurements from a
  device are collected over the same period").
- ``mlDetectionConfig``: AWS trains a model per device; the rig learns each thing's baseline (the
  median of its first ``baseline_datapoints`` datapoints, then of the ones in compliance) and
  flags datapoints above 10x (LOW), 30x (MEDIUM) or 100x (HIGH) of it. That mapping is the rig's,
  not AWS's model.
- ``consecutiveDatapointsToAlarm`` / ``ToClear``: violating datapoints in a row before an alarm,
  compliant ones in a row before it clears.
"""

from __future__ import annotations

import statistics
from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from cloud.defender.profiles import Behavior, SecurityProfile

SUM_METRICS = frozenset({
    "aws:num-messages-sent", "aws:num-messages-received", "aws:num-authorization-failures",
    "aws:num-connection-attempts", "aws:num-disconnects", "aws:all-bytes-out", "aws:all-bytes-in",
    "aws:all-packets-out", "aws:all-packets-in",
})
MAX_METRICS = frozenset({"aws:message-byte-size"})
ML_FACTORS = {"LOW": 10.0, "MEDIUM": 30.0, "HIGH": 100.0}

Datum = float | frozenset[int] | frozenset[str]


@dataclass(frozen=True, slots=True)
class Event:
    """A behavior of one thing going into alarm or clearing."""

    kind: Literal["in-alarm", "cleared"]
    thing: str
    profile: str
    behavior: str
    metric: str
    value: float | list[int] | list[str]
    threshold: float | list[int] | list[str] | None
    t: float


@dataclass(slots=True)
class _State:
    violating: int = 0
    compliant: int = 0
    in_alarm: bool = False
    history: list[float] = field(default_factory=list)
    """Compliant datapoints: the learned baseline of ``mlDetectionConfig``."""


class Detector:
    """Security profiles evaluated over the samples of every thing."""

    def __init__(self, profiles: Sequence[SecurityProfile], *, baseline_datapoints: int = 20) -> None:
        self.profiles = list(profiles)
        self.baseline_datapoints = baseline_datapoints
        self._samples: dict[tuple[str, str], deque[tuple[float, Datum]]] = defaultdict(deque)
        self._things: set[str] = set()
        self._states: dict[tuple[str, str, str], _State] = defaultdict(_State)
        self._horizon = max((b.criteria.duration_seconds or 0 for p in self.profiles for b in p.behaviors),
                            default=0)

    def observe(self, thing: str, metric: str, value: float | Iterable[int] | Iterable[str], t: float) -> None:
        """One sample (a count metric's event is a sample of 1)."""
        datum: Datum = float(value) if isinstance(value, int | float) else _as_set(value)
        self._things.add(thing)
        samples = self._samples[(thing, metric)]
        samples.append((t, datum))
        while samples and samples[0][0] < t - self._horizon and len(samples) > 1:
            samples.popleft()

    def in_alarm(self) -> list[tuple[str, str, str]]:
        """(thing, profile, behavior) of every active alarm."""
        return sorted(key for key, state in self._states.items() if state.in_alarm)

    def evaluate(self, now: float) -> list[Event]:
        """A datapoint per thing and behavior at ``now``; the alarms raised and cleared."""
        events = []
        for profile in self.profiles:
            for behavior in profile.behaviors:
                points = {thing: self._datapoint(thing, behavior, now) for thing in sorted(self._things)}
                fleet = [v for v in points.values() if isinstance(v, float)]
                for thing, value in points.items():
                    if value is None:
                        continue
                    event = self._judge(thing, profile, behavior, value, fleet, now)
                    if event is not None:
                        events.append(event)
        return events

    def _datapoint(self, thing: str, behavior: Behavior, now: float) -> Datum | None:
        samples = self._samples.get((thing, behavior.metric))
        duration = behavior.criteria.duration_seconds
        if duration is None:
            return samples[-1][1] if samples else None
        window = [v for t, v in samples or () if now - duration < t <= now]
        if behavior.metric in SUM_METRICS:
            return float(sum(v for v in window if isinstance(v, float)))
        if not window:
            return None
        if behavior.metric in MAX_METRICS:
            return max(v for v in window if isinstance(v, float))
        return window[-1]

    def _judge(self, thing: str, profile: SecurityProfile, behavior: Behavior, value: Datum,
               fleet: list[float], now: float) -> Event | None:
        state = self._states[(thing, profile.security_profile_name, behavior.name)]
        threshold = self._threshold(behavior, state, fleet)
        if threshold is None:  # a baseline still being learned
            if isinstance(value, float):
                state.history.append(value)
            return None
        violating = _violates(behavior, value, threshold)
        if violating:
            state.violating, state.compliant = state.violating + 1, 0
        else:
            state.violating, state.compliant = 0, state.compliant + 1
            if isinstance(value, float):
                state.history = [*state.history[-(self.baseline_datapoints - 1):], value]
        criteria = behavior.criteria
        if not state.in_alarm and state.violating >= criteria.consecutive_datapoints_to_alarm:
            state.in_alarm = True
            return _event("in-alarm", thing, profile, behavior, value, threshold, now)
        if state.in_alarm and state.compliant >= criteria.consecutive_datapoints_to_clear:
            state.in_alarm = False
            return _event("cleared", thing, profile, behavior, value, threshold, now)
        return None

    def _threshold(self, behavior: Behavior, state: _State, fleet: list[float]) -> Datum | None:
        criteria = behavior.criteria
        if criteria.value is not None:
            number = criteria.value.threshold()
            if number is not None:
                return number
            if criteria.value.ports is not None:
                return frozenset(criteria.value.ports)
            return frozenset(criteria.value.strings or ())
        if criteria.statistical_threshold is not None:
            return _statistic(fleet, criteria.statistical_threshold.statistic) if fleet else None
        assert criteria.ml_detection_config is not None
        if len(state.history) < self.baseline_datapoints:
            return None
        baseline = max(statistics.median(state.history), 1.0)
        return baseline * ML_FACTORS[criteria.ml_detection_config.confidence_level]


def _violates(behavior: Behavior, value: Datum, threshold: Datum) -> bool:
    """True when the datapoint breaks the behavior (the criteria say what is *normal*)."""
    operator = behavior.criteria.comparison_operator
    if behavior.criteria.ml_detection_config is not None:
        return isinstance(value, float) and isinstance(threshold, float) and value > threshold
    if isinstance(value, frozenset) and isinstance(threshold, frozenset):
        inside = value <= threshold
        return not inside if operator in ("in-port-set", "in-set") else bool(value & threshold)
    if not isinstance(value, float) or not isinstance(threshold, float):
        return False
    normal = {"less-than": value < threshold, "less-than-equals": value <= threshold,
              "greater-than": value > threshold, "greater-than-equals": value >= threshold}
    return not normal.get(operator or "", True)


def _as_set(values: Iterable[int] | Iterable[str]) -> frozenset[int] | frozenset[str]:
    items: list[int | str] = list(values)
    ports = [v for v in items if isinstance(v, int)]
    return frozenset(ports) if len(ports) == len(items) else frozenset(str(v) for v in items)


def _statistic(values: list[float], statistic: str) -> float:
    if statistic == "Average":
        return statistics.fmean(values)
    ranked = sorted(values)
    rank = float(statistic[1:]) / 100 * (len(ranked) - 1)
    low = int(rank)
    high = min(low + 1, len(ranked) - 1)
    return ranked[low] + (ranked[high] - ranked[low]) * (rank - low)


def _event(kind: Literal["in-alarm", "cleared"], thing: str, profile: SecurityProfile, behavior: Behavior,
           value: Datum, threshold: Datum, now: float) -> Event:
    def plain(v: Datum) -> float | list[int] | list[str]:
        return sorted(v) if isinstance(v, frozenset) else v  # type: ignore[return-value]

    return Event(kind, thing, profile.security_profile_name, behavior.name, behavior.metric, plain(value),
                 plain(threshold), now)
