"""Detector models in YAML, with AWS IoT Events' shape (CreateDetectorModel's ``detectorModelDefinition``):
states with ``onEnter`` / ``onInput`` / ``onExit`` events, transition events, conditions, variables,
timers and actions, one detector instance per key (the device).

Actions are those of IoT Events (``setVariable``, ``setTimer``, ``resetTimer``, ``clearTimer``,
``iotTopicPublish``, ``sns``, ``sqs``) plus ``webhook`` (HTTP POST), ``currentState`` (the state
goes into the current-state store), ``dlq`` and the alarm lifecycle's ``raiseAlarm`` / ``clearAlarm``.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, model_validator

from cloud.processors.actions import Action
from cloud.processors.anomaly import AnomalySpec
from cloud.processors.expressions import Expression, ExpressionError
from cloud.processors.windows import WindowSpec
from cloud.rules.actions.base import CloudModel, Duration


class Event(CloudModel):
    event_name: str
    condition: str = "true"
    actions: tuple[Action, ...] = ()

    @cached_property
    def test(self) -> Expression:
        return Expression(self.condition)


class TransitionEvent(Event):
    next_state: str


class OnInput(CloudModel):
    events: tuple[Event, ...] = ()
    transition_events: tuple[TransitionEvent, ...] = ()


class OnEvents(CloudModel):
    events: tuple[Event, ...] = ()


class State(CloudModel):
    state_name: str
    on_enter: OnEvents = OnEvents()
    on_input: OnInput = OnInput()
    on_exit: OnEvents = OnEvents()


class AlarmSpec(CloudModel):
    """An alarm raised by the model: who is told when it becomes active, and whether it latches
    (stays until acknowledged once the condition is gone, as IoT Events' latch option)."""

    alarm_name: str
    severity: int = 0
    latch: bool = False
    notify: tuple[Action, ...] = ()


class DetectorModel(CloudModel):
    detector_model_name: str
    key: str = "device"
    initial_state_name: str
    states: tuple[State, ...]
    alarms: tuple[AlarmSpec, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> DetectorModel:
        names = {s.state_name for s in self.states}
        if self.initial_state_name not in names:
            raise ValueError(f"initialStateName {self.initial_state_name!r} is not a state")
        if self.key != "device":
            raise ValueError("key: only 'device' (one instance per device) is supported")
        alarms = {a.alarm_name for a in self.alarms}
        for state in self.states:
            for t in state.on_input.transition_events:
                if t.next_state not in names:
                    raise ValueError(f"state {state.state_name}: nextState {t.next_state!r} is not a state")
            for event in (*state.on_enter.events, *state.on_input.events, *state.on_exit.events,
                          *state.on_input.transition_events):
                try:
                    event.test  # noqa: B018 - compile now so that a bad condition fails the load
                except ExpressionError as exc:
                    raise ValueError(f"state {state.state_name}, event {event.event_name}: {exc}") from None
                for action in event.actions:
                    ref = action.raise_alarm or action.clear_alarm
                    if ref is not None and ref.alarm_name not in alarms:
                        raise ValueError(f"event {event.event_name}: alarm {ref.alarm_name!r} is not declared")
        return self

    @cached_property
    def by_name(self) -> dict[str, State]:
        return {s.state_name: s for s in self.states}

    def alarm(self, name: str) -> AlarmSpec:
        return next(a for a in self.alarms if a.alarm_name == name)


class ProcessorConfig(CloudModel):
    """A processors file: windows and detector models applied to one stream."""

    windows: tuple[WindowSpec, ...] = ()
    detector_models: tuple[DetectorModel, ...] = ()
    anomalies: tuple[AnomalySpec, ...] = ()
    clock: str = Field("event", pattern="^(event|wall)$")
    """Timers on event time (replay: deterministic) or also advanced by the wall clock (live)."""
    wall_clock_lag: Duration = 5.0
    """Live: the clock is at least the wall clock minus this (readings still in flight)."""

    @model_validator(mode="after")
    def _check(self) -> ProcessorConfig:
        windows = {w.name for w in self.windows}
        for anomaly in self.anomalies:
            if anomaly.window not in windows:
                raise ValueError(f"anomaly {anomaly.name}: window {anomaly.window!r} is not defined")
        alarms = [a.alarm_name for m in self.detector_models for a in m.alarms]
        if len(alarms) != len(set(alarms)):
            raise ValueError("alarm names must be unique across detector models (commands name them)")
        return self


class ConfigError(ValueError):
    """A processors file that does not load; one line naming the field."""


def load_config(source: Path | str | dict[str, Any]) -> ProcessorConfig:
    """Parse a processors YAML file (a path), YAML text or an already-parsed mapping."""
    try:
        raw = source if isinstance(source, dict) else yaml.safe_load(
            source.read_text() if isinstance(source, Path) else source)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"processors file: {exc}") from None
    try:
        return ProcessorConfig.model_validate(raw or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"processors file: {where}: {first['msg']}") from None
