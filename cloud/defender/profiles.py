"""Security profiles as AWS IoT Device Defender writes them (CreateSecurityProfile's
``behaviors``, camelCase), plus the mitigation a violation triggers.

AWS announced that Device Defender Detect takes no new customers after 2026-08-31 (developer
guide, "Device-side metrics", availability note); these profiles keep its model so that profiles
written for it work here unchanged.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

Operator = Literal["less-than", "less-than-equals", "greater-than", "greater-than-equals",
                   "in-port-set", "not-in-port-set", "in-set", "not-in-set"]
Statistic = Literal["Average", "p0", "p0.01", "p0.1", "p1", "p10", "p50", "p90", "p99", "p99.9",
                    "p99.99", "p100"]
"""CloudFormation ``AWS::IoT::SecurityProfile StatisticalThreshold``: the allowed values."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True)


class MetricValue(_Model):
    count: int | None = Field(default=None, ge=0)
    number: float | None = None
    ports: list[int] | None = None
    strings: list[str] | None = None

    def threshold(self) -> float | None:
        if self.count is not None:
            return float(self.count)
        return self.number


class StatisticalThreshold(_Model):
    statistic: Statistic


class MlDetectionConfig(_Model):
    confidence_level: Literal["LOW", "MEDIUM", "HIGH"]


class Criteria(_Model):
    comparison_operator: Operator | None = None
    value: MetricValue | None = None
    statistical_threshold: StatisticalThreshold | None = None
    ml_detection_config: MlDetectionConfig | None = None
    duration_seconds: int | None = Field(default=None, gt=0)
    consecutive_datapoints_to_alarm: int = Field(default=1, ge=1, le=10)
    consecutive_datapoints_to_clear: int = Field(default=1, ge=1, le=10)

    @model_validator(mode="after")
    def _one_kind(self) -> Criteria:
        kinds = [k for k in (self.value, self.statistical_threshold, self.ml_detection_config) if k is not None]
        if len(kinds) != 1:
            raise ValueError("give exactly one of value, statisticalThreshold, mlDetectionConfig")
        if self.ml_detection_config is None and self.comparison_operator is None:
            raise ValueError("comparisonOperator is required with value or statisticalThreshold")
        return self


class Behavior(_Model):
    name: str = Field(min_length=1, max_length=128)
    metric: str
    """``aws:num-messages-sent``, ``aws:num-authorization-failures``, ``aws:all-bytes-out``...,
    or the name of a custom metric the devices report."""
    criteria: Criteria
    suppress_alerts: bool = False


class AddThingsToThingGroupParams(_Model):
    thing_group_names: list[str] = Field(min_length=1)
    override_dynamic_groups: bool = False


class MitigationAction(_Model):
    """AWS's mitigation action parameters; only ``addThingsToThingGroupParams`` (quarantine) is
    carried out here."""

    action_name: str
    add_things_to_thing_group_params: AddThingsToThingGroupParams


class SecurityProfile(_Model):
    security_profile_name: str = Field(pattern=r"^[a-zA-Z0-9:_-]{1,128}$")
    behaviors: list[Behavior] = Field(min_length=1)
    mitigation: MitigationAction | None = None
    """Applied to a thing when one of its behaviors goes into alarm (AWS starts mitigation
    actions as a task; the rig applies them at once)."""
