"""Everything the processors hold for one partition of the stream, fed in stream order.

Timers run on event time: a timer fires when an input of its key reaches its due time, and is
evaluated (with ``timeout()`` true) before that input. Since a key's inputs keep their order in
the stream, replaying a recorded stream fires the same timers at the same event times and raises
the same alarms, whatever other devices share the partition. A live worker also ticks the clock
with the wall clock minus a lag (:meth:`PartitionProcessor.tick`), so the timer of a device that
went quiet fires too; it is stamped with its due time, as a replay would stamp it.

:meth:`PartitionProcessor.process` returns a :class:`Step`: closed windows, late readings,
alarm changes and notifications, plus the keys whose state changed — what the checkpoint writes
in the same transaction as the new stream position.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cloud.processors.actions import Action
from cloud.processors.alarms import Alarm, AlarmChange, Command, clear_alarm, command, raise_alarm
from cloud.processors.anomaly import AnomalyOperator, AnomalyScore
from cloud.processors.detector import Detector, Effect, Instance
from cloud.processors.inputs import DeviceInput, EnvelopeError, inputs_of
from cloud.processors.model import ProcessorConfig
from cloud.processors.windows import LateReading, WindowOperator, WindowResult


@dataclass(frozen=True, slots=True)
class Notification:
    """One action to carry out once the checkpoint holding it is committed; ``id`` is stable
    across replays, so a receiver (and the outbox) can drop a second copy."""

    id: str
    action: Action
    payload: dict[str, Any]


@dataclass(slots=True)
class Step:
    """The outcome of a run of records (see the module docstring)."""

    windows: list[WindowResult] = field(default_factory=list)
    late: list[LateReading] = field(default_factory=list)
    undecodable: list[tuple[str, bytes]] = field(default_factory=list)
    """(reason, record data) of records that are not envelopes."""
    changes: list[AlarmChange] = field(default_factory=list)
    scores: list[AnomalyScore] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    dirty: set[tuple[str, str]] = field(default_factory=set)
    """(operator, key) whose state changed: ``window:<name>``, ``detector:<model>``."""

    def extend(self, other: Step) -> None:
        self.windows += other.windows
        self.late += other.late
        self.undecodable += other.undecodable
        self.changes += other.changes
        self.scores += other.scores
        self.notifications += other.notifications
        self.dirty |= other.dirty

    def __bool__(self) -> bool:
        return bool(self.windows or self.late or self.undecodable or self.changes or self.scores
                    or self.notifications or self.dirty)


class PartitionProcessor:
    """Windows, detectors and alarms of one partition; state restorable from a checkpoint."""

    def __init__(self, config: ProcessorConfig, partition: int) -> None:
        self.config = config
        self.partition = partition
        self.clock = -(2**62)
        self.windows = {spec.name: WindowOperator(spec) for spec in config.windows}
        self.detectors = {m.detector_model_name: Detector(m) for m in config.detector_models}
        self.instances: dict[str, dict[str, Instance]] = {name: {} for name in self.detectors}
        self.anomalies = [AnomalyOperator(spec) for spec in config.anomalies]
        """Forests are not checkpointed (megabytes each): after a restart they learn again."""
        self.alarms: dict[tuple[str, str, str], Alarm] = {}
        self._timers: list[tuple[int, str, str]] = []
        """(due, model, key) heap; an entry is checked against the instance when popped."""

    # -- feeding -------------------------------------------------------------------------------
    def process(self, payloads: Iterable[bytes]) -> Step:
        step = Step()
        for data in payloads:
            try:
                inputs = inputs_of(data)
            except EnvelopeError as exc:
                step.undecodable.append((str(exc), data))
                continue
            for inp in inputs:
                self._input(inp, step)
        return step

    def tick(self, now_ms: int) -> Step:
        """Live: fire every timer due at ``now_ms`` (the wall clock minus the lag) or before."""
        step = Step()
        self.clock = max(self.clock, now_ms)
        while self._timers and self._timers[0][0] <= now_ms:
            due, name, key = heapq.heappop(self._timers)
            instance = self.instances[name].get(key)
            if instance is None or instance.next_due() != due:
                continue  # stale entry: the timer was cleared, reset or already fired
            self._apply(self.detectors[name].expire_timers(instance, key, due), step)
            self._schedule(name, key, instance)
            step.dirty.add((f"detector:{name}", key))
        return step

    def _input(self, inp: DeviceInput, step: Step) -> None:
        self.clock = max(self.clock, inp.t)
        for name, op in self.windows.items():
            closed, late = op.add(inp)
            step.windows += closed
            step.late += late
            step.dirty.add((f"window:{name}", inp.device))
            if closed:
                self._score(name, closed, step)
        for name, detector in self.detectors.items():
            instances = self.instances[name]
            instance = instances.get(inp.device)
            if instance is None:
                instance, effects = detector.create(inp.device, inp.t)
                instances[inp.device] = instance
                self._apply(effects, step)
            self._apply(detector.expire_timers(instance, inp.device, inp.t), step)
            self._apply(detector.on_input(instance, inp.device, inp.t, inp.values), step)
            self._schedule(name, inp.device, instance)
            step.dirty.add((f"detector:{name}", inp.device))

    def _schedule(self, model: str, key: str, instance: Instance) -> None:
        due = instance.next_due()
        if due is not None:
            heapq.heappush(self._timers, (due, model, key))

    def _score(self, window: str, closed: list[WindowResult], step: Step) -> None:
        starts: dict[int, list[WindowResult]] = {}
        for w in closed:
            starts.setdefault(w.start, []).append(w)
        for op in self.anomalies:
            if op.spec.window != window:
                continue
            for start, group in sorted(starts.items()):
                point = op.vector(group)
                if point is None:
                    continue
                score = op.score(group[0].device, start, point)
                step.scores.append(score)
                if score.alert:
                    payload = {"id": f"{op.spec.name}/{score.key}/{start}", "anomaly": op.spec.name,
                               "key": score.key, "t": start, "score": score.score,
                               "attribution": dict(score.attribution or {})}
                    step.notifications += [Notification(f"{payload['id']}/{n}", action, payload)
                                           for n, action in enumerate(op.spec.notify)]

    # -- effects -------------------------------------------------------------------------------
    def _apply(self, effects: list[Effect], step: Step) -> None:
        for n, effect in enumerate(effects):
            action = effect.action
            ref = action.raise_alarm or action.clear_alarm
            if ref is None:
                step.notifications.append(Notification(
                    f"{effect.model}/{effect.key}/{effect.t}/{effect.event}/{n}", action,
                    _payload(effect)))
                continue
            spec = self.detectors[effect.model].model.alarm(ref.alarm_name)
            alarm = self.alarm(effect.model, ref.alarm_name, effect.key)
            alarm.severity = ref.severity or spec.severity
            change = raise_alarm(alarm, effect.t) if action.raise_alarm is not None else \
                clear_alarm(alarm, effect.t, latch=spec.latch)
            if change is not None:
                self._record(change, step, effect.inputs)

    def alarm(self, model: str, name: str, key: str) -> Alarm:
        slot = (model, name, key)
        if slot not in self.alarms:
            self.alarms[slot] = Alarm(model, name, key)
        return self.alarms[slot]

    def command(self, model: str, name: str, key: str, what: Command, t: int, snooze_ms: int = 0) -> Step:
        """An operator's command on one alarm of this partition."""
        step = Step()
        change = command(self.alarm(model, name, key), what, t, snooze_ms=snooze_ms)
        if change is not None:
            self._record(change, step, {})
        return step

    def _record(self, change: AlarmChange, step: Step, inputs: Mapping[str, Any]) -> None:
        step.changes.append(change)
        if not change.notifies:
            return
        alarm = change.alarm
        spec = self.detectors[alarm.model].model.alarm(alarm.name)
        payload = {"id": alarm.occurrence, "model": alarm.model, "alarm": alarm.name, "key": alarm.key,
                   "severity": alarm.severity, "state": alarm.state.value, "t": change.t,
                   "inputs": dict(inputs)}
        for n, action in enumerate(spec.notify):
            step.notifications.append(Notification(f"{alarm.occurrence}/{n}", action, payload))

    # -- checkpoint ----------------------------------------------------------------------------
    def snapshot(self, operator: str, key: str) -> str | None:
        kind, _, name = operator.partition(":")
        if kind == "window":
            saved = self.windows[name].snapshot(key)
            return None if saved is None else json.dumps(saved)
        instance = self.instances[name].get(key)
        return None if instance is None else json.dumps(instance.to_json())

    def restore(self, operator: str, key: str, saved: str) -> None:
        kind, _, name = operator.partition(":")
        if kind == "window" and name in self.windows:
            self.windows[name].restore(key, json.loads(saved))
        elif kind == "detector" and name in self.instances:
            instance = Instance.from_json(json.loads(saved))
            self.instances[name][key] = instance
            self._schedule(name, key, instance)


def _payload(effect: Effect) -> dict[str, Any]:
    return {"id": f"{effect.model}/{effect.key}/{effect.t}/{effect.event}", "model": effect.model,
            "key": effect.key, "state": effect.state, "event": effect.event, "t": effect.t,
            "inputs": dict(effect.inputs)}
