"""The actions a detector model's events (and an anomaly detector's alerts) may take, in AWS IoT
Events' shape (``{"setTimer": {...}}``): one key per action, naming its type."""

from __future__ import annotations

from pydantic import model_validator

from cloud.rules.actions.base import AwsClientConfig, CloudModel, Duration


class TimerRef(CloudModel):
    timer_name: str


class SetTimer(CloudModel):
    """Start (or restart) a timer; AWS takes ``seconds`` (or an expression) — so do we."""

    timer_name: str
    seconds: Duration | None = None
    duration_expression: str | None = None

    @model_validator(mode="after")
    def _one(self) -> SetTimer:
        if (self.seconds is None) == (self.duration_expression is None):
            raise ValueError(f"setTimer {self.timer_name}: give seconds or durationExpression")
        return self


class SetVariable(CloudModel):
    variable_name: str
    value: str
    """An expression."""


class TopicPublish(CloudModel):
    mqtt_topic: str
    """``{key}`` and ``{alarm}`` are replaced by the instance key and the alarm name."""
    qos: int = 1


class SnsTarget(AwsClientConfig):
    target_arn: str


class SqsTarget(AwsClientConfig):
    queue_url: str


class Webhook(CloudModel):
    url: str
    timeout: Duration = 10.0


class AlarmRef(CloudModel):
    alarm_name: str
    severity: int = 0


class Empty(CloudModel):
    pass


class Action(CloudModel):
    """Exactly one action, keyed by its type as in IoT Events."""

    set_variable: SetVariable | None = None
    set_timer: SetTimer | None = None
    reset_timer: TimerRef | None = None
    clear_timer: TimerRef | None = None
    iot_topic_publish: TopicPublish | None = None
    sns: SnsTarget | None = None
    sqs: SqsTarget | None = None
    webhook: Webhook | None = None
    current_state: Empty | None = None
    dlq: Empty | None = None
    raise_alarm: AlarmRef | None = None
    clear_alarm: AlarmRef | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Action:
        given = [name for name in type(self).model_fields if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"an action has exactly one type, not {given or 'none'}")
        return self

    @property
    def kind(self) -> str:
        return next(name for name in type(self).model_fields if getattr(self, name) is not None)

    @property
    def body(self) -> CloudModel:
        body: CloudModel = getattr(self, self.kind)
        return body
