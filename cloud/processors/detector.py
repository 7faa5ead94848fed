"""One detector instance (a model applied to one key), evaluated as AWS IoT Events does.

An input is evaluated in the current state as follows (SERIAL evaluation: a variable set by an
event is seen by the events after it): the ``onInput`` events whose condition holds run their
actions in order; then the first transition event whose condition holds fires: the ``onExit``
events of the state, the transition's actions, then the ``onEnter`` events of the next state.
A new instance enters the initial state (running its ``onEnter``) before its first input.
A timer expiring is evaluated like an input with no new values in which ``timeout("name")`` is
true (iotevents-expressions.md, "timeout").

Evaluation is pure: it changes the instance and returns the :class:`Effect` s (notifications,
alarm changes) for the runtime to carry out, each stamped with the event time that caused it, so
replaying the same inputs yields the same effects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cloud.processors.actions import Action
from cloud.processors.expressions import Expression, Scope
from cloud.processors.model import DetectorModel, Event

_TIMER_ACTIONS = frozenset({"set_timer", "reset_timer", "clear_timer"})


@dataclass(frozen=True, slots=True)
class Effect:
    """An action for the runtime: ``kind`` is the action type, ``t`` the event time (ms)."""

    model: str
    key: str
    t: int
    state: str
    event: str
    action: Action
    inputs: Mapping[str, Any]


@dataclass(slots=True)
class Timer:
    due: int
    duration: int


@dataclass(slots=True)
class Instance:
    """A detector's state: current state, variables, running timers, latest inputs."""

    state: str
    variables: dict[str, Any] = field(default_factory=dict)
    timers: dict[str, Timer] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state, "variables": self.variables, "inputs": self.inputs,
                "timers": {n: [t.due, t.duration] for n, t in self.timers.items()}}

    @classmethod
    def from_json(cls, saved: Mapping[str, Any]) -> Instance:
        return cls(str(saved["state"]), dict(saved["variables"]),
                   {n: Timer(int(d), int(w)) for n, (d, w) in saved["timers"].items()},
                   dict(saved["inputs"]))

    def next_due(self) -> int | None:
        return min((t.due for t in self.timers.values()), default=None)


class Detector:
    """Evaluates one :class:`DetectorModel` for its instances."""

    def __init__(self, model: DetectorModel) -> None:
        self.model = model

    def create(self, key: str, t: int) -> tuple[Instance, list[Effect]]:
        instance = Instance(self.model.initial_state_name)
        effects: list[Effect] = []
        self._run_events(instance, key, t, self.model.by_name[instance.state].on_enter.events, effects)
        return instance, effects

    def on_input(self, instance: Instance, key: str, t: int, values: Mapping[str, Any]) -> list[Effect]:
        """Evaluate an input of ``values`` at event time ``t``."""
        instance.inputs.update(values)
        return self._evaluate(instance, key, t, None)

    def expire_timers(self, instance: Instance, key: str, until: int) -> list[Effect]:
        """Fire, in due order, every timer due at or before ``until`` (ms)."""
        effects: list[Effect] = []
        while (due := instance.next_due()) is not None and due <= until:
            name = min((n for n, tm in instance.timers.items() if tm.due == due))
            del instance.timers[name]
            effects += self._evaluate(instance, key, due, name)
        return effects

    def _evaluate(self, instance: Instance, key: str, t: int, expired: str | None) -> list[Effect]:
        state = self.model.by_name[instance.state]
        effects: list[Effect] = []
        self._run_events(instance, key, t, state.on_input.events, effects, expired)
        for transition in state.on_input.transition_events:
            if transition.test.holds(Scope(instance.inputs, instance.variables, expired)):
                self._run_events(instance, key, t, state.on_exit.events, effects, expired)
                self._act(instance, key, t, transition, effects)
                instance.state = transition.next_state
                self._run_events(instance, key, t, self.model.by_name[instance.state].on_enter.events,
                                 effects, expired)
                break
        return effects

    def _run_events(self, instance: Instance, key: str, t: int, events: tuple[Event, ...],
                    effects: list[Effect], expired: str | None = None) -> None:
        for event in events:
            if event.test.holds(Scope(instance.inputs, instance.variables, expired)):
                self._act(instance, key, t, event, effects)

    def _act(self, instance: Instance, key: str, t: int, event: Event, effects: list[Effect]) -> None:
        scope = Scope(instance.inputs, instance.variables)
        for action in event.actions:
            kind = action.kind
            if action.set_variable is not None:
                instance.variables[action.set_variable.variable_name] = \
                    Expression(action.set_variable.value).evaluate(scope)
            elif kind in _TIMER_ACTIONS:
                self._timer(instance, t, action, scope)
            else:
                effects.append(Effect(self.model.detector_model_name, key, t, instance.state,
                                      event.event_name, action, dict(instance.inputs)))

    @staticmethod
    def _timer(instance: Instance, t: int, action: Action, scope: Scope) -> None:
        if action.set_timer is not None:
            spec = action.set_timer
            seconds = spec.seconds if spec.seconds is not None else \
                Expression(spec.duration_expression or "0").evaluate(scope)
            if isinstance(seconds, int | float) and seconds > 0:
                duration = int(seconds * 1000)
                instance.timers[spec.timer_name] = Timer(t + duration, duration)
        elif action.reset_timer is not None:
            timer = instance.timers.get(action.reset_timer.timer_name)
            if timer is not None:
                timer.due = t + timer.duration
        elif action.clear_timer is not None:
            instance.timers.pop(action.clear_timer.timer_name, None)
