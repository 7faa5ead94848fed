"""``cloudwatchMetric``: one metric datum per rule firing — a local JSON-lines log per namespace,
or Amazon CloudWatch."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from cloud.rules.actions.aws import AwsClient, aws_client
from cloud.rules.actions.base import ActionMessage, AwsClientConfig, BuildContext, CloudModel, Embedded
from cloud.stores.files import JsonLinesLog

UNITS = ("Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
         "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
         "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
         "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None")
"""CloudWatch's StandardUnit values."""


class LocalMetricsBackend(CloudModel):
    type: Literal["local"] = "local"


class CloudWatchBackend(AwsClientConfig):
    type: Literal["cloudwatch"]


MetricsBackend = Annotated[LocalMetricsBackend | CloudWatchBackend, Field(discriminator="type")]


class CloudwatchMetricAction(CloudModel):
    """Like AWS's ``cloudwatchMetric`` action (cloudwatch-metrics-rule-action.html): namespace, name,
    value, unit and an optional timestamp (Unix seconds), each a substitution template."""

    metric_namespace: str = Field(min_length=1)
    metric_name: str = Field(min_length=1)
    metric_value: str = Field(min_length=1)
    metric_unit: str = Field(min_length=1)
    metric_timestamp: str | None = None
    backend: MetricsBackend = LocalMetricsBackend()

    def build(self, context: BuildContext) -> PutMetric:
        if isinstance(self.backend, CloudWatchBackend):
            return PutMetric(self, aws_client(context, "cloudwatch", self.backend))
        path = context.data_dir / "metrics" / f"{self.metric_namespace.replace('/', '_')}.jsonl"
        log = context.shared(f"metrics:{path}", lambda: Embedded(JsonLinesLog(path)))
        return PutMetric(self, log.store)


class PutMetric:
    failed_action = "CloudwatchMetricAction"

    def __init__(self, config: CloudwatchMetricAction, target: JsonLinesLog | AwsClient) -> None:
        self.config = config
        self.resource = config.metric_namespace
        self._target = target

    def datum(self, message: ActionMessage) -> dict[str, Any]:
        """The metric datum of one firing; a value or unit CloudWatch would refuse is an error."""
        c = self.config
        unit = message.substitute(c.metric_unit)
        if unit not in UNITS:
            raise ValueError(f"metric unit {unit!r} is not a CloudWatch unit")
        raw = message.substitute(c.metric_value)
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"metric value {raw!r} is not a number") from None
        seconds = float(message.substitute(c.metric_timestamp)) if c.metric_timestamp else message.timestamp / 1000
        return {"MetricName": message.substitute(c.metric_name), "Value": value, "Unit": unit,
                "Timestamp": datetime.fromtimestamp(seconds, UTC)}

    async def __call__(self, message: ActionMessage) -> None:
        datum = self.datum(message)
        namespace = message.substitute(self.config.metric_namespace)
        if isinstance(self._target, JsonLinesLog):
            await self._target.append({"namespace": namespace, **datum, "Timestamp": datum["Timestamp"].isoformat()})
            return
        await self._target.call("put_metric_data", Namespace=namespace, MetricData=[datum])
