"""Rule actions: what a rule does with its output. ``ActionSpec`` is one entry of a rule's
``actions`` list (or its ``errorAction``), written as AWS writes actions: one key naming the
action, e.g. ``{stream: {streamName: telemetry}}``."""

from __future__ import annotations

from pydantic import Field, model_validator

from cloud.rules.actions.base import Action, ActionMessage, BuildContext, CloudModel, Resource
from cloud.rules.actions.current_state import CurrentStateAction
from cloud.rules.actions.dlq import DlqAction
from cloud.rules.actions.function import LambdaAction
from cloud.rules.actions.lake import LakeAction
from cloud.rules.actions.metric import CloudwatchMetricAction
from cloud.rules.actions.republish import RepublishAction
from cloud.rules.actions.s3 import S3Action
from cloud.rules.actions.sns import SnsAction
from cloud.rules.actions.stream import StreamAction
from cloud.rules.actions.timeseries import TimeseriesAction

ActionConfig = (StreamAction | LakeAction | TimeseriesAction | CurrentStateAction | RepublishAction
                | DlqAction | S3Action | SnsAction | CloudwatchMetricAction | LambdaAction)


class ActionSpec(CloudModel):
    """Exactly one of the action kinds."""

    stream: StreamAction | None = None
    lake: LakeAction | None = None
    timeseries: TimeseriesAction | None = None
    current_state: CurrentStateAction | None = None
    republish: RepublishAction | None = None
    dlq: DlqAction | None = None
    s3: S3Action | None = None
    sns: SnsAction | None = None
    cloudwatch_metric: CloudwatchMetricAction | None = Field(default=None, alias="cloudwatchMetric")
    lambda_: LambdaAction | None = Field(default=None, alias="lambda")

    @model_validator(mode="after")
    def _exactly_one(self) -> ActionSpec:
        chosen = [name.rstrip("_") for name in type(self).model_fields if getattr(self, name) is not None]
        if len(chosen) != 1:
            kinds = ", ".join(name.rstrip("_") for name in type(self).model_fields)
            raise ValueError(f"an action names exactly one of {kinds}; found {chosen or 'none'}")
        return self

    @property
    def kind(self) -> str:
        """The action's name as the rules file writes it (``lambda`` for the field ``lambda_``)."""
        return self._field.rstrip("_")

    @property
    def _field(self) -> str:
        return next(name for name in type(self).model_fields if getattr(self, name) is not None)

    @property
    def config(self) -> ActionConfig:
        config: ActionConfig = getattr(self, self._field)
        return config

    def build(self, context: BuildContext) -> Action:
        return self.config.build(context)


__all__ = ["Action", "ActionConfig", "ActionMessage", "ActionSpec", "BuildContext", "Resource"]
