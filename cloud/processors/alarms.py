"""The alarm lifecycle of IoT Events alarm models: NORMAL → ACTIVE → ACKNOWLEDGED → NORMAL,
with LATCHED (the condition cleared before anyone acknowledged a latching alarm), snooze
(SNOOZE_DISABLED until a time: raises are recorded but nobody is notified) and reset.

A transition returns the :class:`AlarmChange` to record; only a change to ACTIVE notifies. An
occurrence of an alarm has a stable id, ``<model>/<alarm>/<key>/<raise time>``, carried by its
notifications so that a receiver can tell a redelivery from a new alarm.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any


class AlarmState(StrEnum):
    NORMAL = "NORMAL"
    ACTIVE = "ACTIVE"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    LATCHED = "LATCHED"
    SNOOZE_DISABLED = "SNOOZE_DISABLED"


class Command(StrEnum):
    """What an operator does to an alarm (CLI or MQTT)."""

    ACKNOWLEDGE = "acknowledge"
    SNOOZE = "snooze"
    RESET = "reset"


@dataclass(slots=True)
class Alarm:
    """One alarm of one key."""

    model: str
    name: str
    key: str
    severity: int = 0
    state: AlarmState = AlarmState.NORMAL
    since: int = 0
    occurrence: str = ""
    snooze_until: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "alarm": self.name, "key": self.key, "severity": self.severity,
                "state": self.state.value, "since": self.since, "id": self.occurrence,
                "snoozeUntil": self.snooze_until}


@dataclass(frozen=True, slots=True)
class AlarmChange:
    alarm: Alarm
    """A copy of the alarm as the change left it."""
    previous: AlarmState
    t: int
    cause: str
    """``raise``, ``clear``, or the operator's command."""

    @property
    def notifies(self) -> bool:
        return self.alarm.state is AlarmState.ACTIVE and self.previous is not AlarmState.ACTIVE


def raise_alarm(alarm: Alarm, t: int) -> AlarmChange | None:
    """The detector saw the alarm condition at ``t``."""
    if alarm.state is AlarmState.SNOOZE_DISABLED:
        if t < alarm.snooze_until:
            return None
        alarm.state = AlarmState.NORMAL
    if alarm.state is not AlarmState.NORMAL:
        return None
    alarm.occurrence = f"{alarm.model}/{alarm.name}/{alarm.key}/{t}"
    return _move(alarm, AlarmState.ACTIVE, t, "raise")


def clear_alarm(alarm: Alarm, t: int, *, latch: bool) -> AlarmChange | None:
    """The alarm condition is gone at ``t``."""
    if alarm.state is AlarmState.ACTIVE:
        return _move(alarm, AlarmState.LATCHED if latch else AlarmState.NORMAL, t, "clear")
    if alarm.state is AlarmState.ACKNOWLEDGED:
        return _move(alarm, AlarmState.NORMAL, t, "clear")
    return None


def command(alarm: Alarm, what: Command, t: int, *, snooze_ms: int = 0) -> AlarmChange | None:
    """Apply an operator's command at ``t``; None when it does not apply in the current state."""
    if what is Command.ACKNOWLEDGE:
        if alarm.state is AlarmState.ACTIVE:
            return _move(alarm, AlarmState.ACKNOWLEDGED, t, what.value)
        if alarm.state is AlarmState.LATCHED:
            return _move(alarm, AlarmState.NORMAL, t, what.value)
        return None
    if what is Command.SNOOZE:
        alarm.snooze_until = t + snooze_ms
        return _move(alarm, AlarmState.SNOOZE_DISABLED, t, what.value)
    if alarm.state is AlarmState.NORMAL:
        return None
    return _move(alarm, AlarmState.NORMAL, t, what.value)


def _move(alarm: Alarm, to: AlarmState, t: int, cause: str) -> AlarmChange:
    previous, alarm.state, alarm.since = alarm.state, to, t
    return AlarmChange(replace(alarm), previous, t, cause)
