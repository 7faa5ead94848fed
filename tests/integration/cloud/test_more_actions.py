"""The s3, sns, cloudwatchMetric and lambda actions: each per message, on its local backend and on
its AWS backend through boto3 against a moto server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from cloud.rules.rulesfile import RulesFile, parse_rules
from cloud.rules.runner import RulesRunner
from cloud.stores.files import JsonLinesLog
from tests.fixtures.moto import moto_server
from tests.unit.cloud.batches import make_batch

ACCOUNT, REGION = "123456789012", "us-east-1"
TOPIC = "$aws/rules/actions/dt/plant1/pump/pump-1/telemetry"
SQL = "SELECT device, seq, last.p0 AS p0 FROM 'dt/+/+/+/telemetry'"
FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:on-telemetry"
SNS_TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:alerts"
EVENTS: list[Any] = []


def record_event(event: Any, context: Any) -> None:
    """The local lambda handler of the tests."""
    EVENTS.append(event)


def rules(data: Path, **backends: dict[str, Any]) -> RulesFile:
    return parse_rules({"dataDir": str(data), "rules": [{"name": "actions", "sql": SQL, "actions": [
        {"s3": {"bucketName": "archive", "key": "${topic(4)}/${seq}.json", **backends.get("s3", {})}},
        {"sns": {"targetArn": SNS_TOPIC, **backends.get("sns", {})}},
        {"cloudwatchMetric": {"metricNamespace": "edgeferry/pumps", "metricName": "p0", "metricValue": "${last.p0}",
                              "metricUnit": "None", **backends.get("metric", {})}},
        {"lambda": {"functionArn": FUNCTION, "backend": backends.get(
            "lambda", {"type": "local", "handler": f"{__name__}:record_event"})}},
    ], "errorAction": {"dlq": {}}}]})


async def test_each_action_acts_once_per_message_on_its_local_backend(tmp_path: Path) -> None:
    EVENTS.clear()
    async with RulesRunner(rules(tmp_path)) as runner:
        for seq in (1, 2):
            outcome = await runner.process(TOPIC, make_batch(seq=seq).encode(), timestamp=1_795_000_000_000)
            assert outcome.failures == {}
    objects = sorted(p.relative_to(tmp_path / "s3" / "archive").as_posix() for p in (tmp_path / "s3").rglob("*.json"))
    assert objects == ["pump-1/1.json", "pump-1/2.json"]
    assert json.loads((tmp_path / "s3" / "archive" / "pump-1" / "2.json").read_text()) == {
        "device": "pump-1", "seq": 2, "p0": 203.0}
    notes = JsonLinesLog(tmp_path / "sns" / "alerts.jsonl").read()
    assert [json.loads(n["message"])["seq"] for n in notes] == [1, 2]
    metrics = JsonLinesLog(tmp_path / "metrics" / "edgeferry_pumps.jsonl").read()
    assert [(m["MetricName"], m["Value"], m["Unit"]) for m in metrics] == [("p0", 103.0, "None"), ("p0", 203.0, "None")]
    assert EVENTS == [{"device": "pump-1", "seq": 1, "p0": 103.0}, {"device": "pump-1", "seq": 2, "p0": 203.0}]


async def test_a_refused_metric_is_an_action_failure_in_the_error_action(tmp_path: Path) -> None:
    doc = parse_rules({"dataDir": str(tmp_path), "rules": [{"name": "actions", "sql": SQL, "actions": [
        {"cloudwatchMetric": {"metricNamespace": "n", "metricName": "m", "metricValue": "${device}",
                              "metricUnit": "Parsecs"}}], "errorAction": {"dlq": {}}}]})
    async with RulesRunner(doc) as runner:
        outcome = await runner.process(TOPIC, make_batch().encode())
    [failure] = outcome.failures["actions"]
    assert failure.failed_action == "CloudwatchMetricAction"
    assert "is not a CloudWatch unit" in failure.error_message


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with moto_server(monkeypatch, REGION) as url:
        boto3.client("s3", endpoint_url=url, region_name=REGION).create_bucket(Bucket="archive")
        boto3.client("sns", endpoint_url=url, region_name=REGION).create_topic(Name="alerts")
        yield url


async def test_each_action_reaches_its_aws_service(aws: str, tmp_path: Path) -> None:
    where = {"endpointUrl": aws, "region": REGION}
    doc = rules(tmp_path, s3={"backend": {"type": "s3", **where}}, sns={"backend": {"type": "sns", **where}},
                metric={"backend": {"type": "cloudwatch", **where}}, **{"lambda": {"type": "lambda", **where}})
    async with RulesRunner(doc) as runner:
        outcome = await runner.process(TOPIC, make_batch(seq=5).encode(), timestamp=1_795_000_000_000)
    s3 = boto3.client("s3", endpoint_url=aws, region_name=REGION)
    body = s3.get_object(Bucket="archive", Key="pump-1/5.json")["Body"].read()
    assert json.loads(body) == {"device": "pump-1", "seq": 5, "p0": 503.0}

    from moto.sns.models import sns_backends

    [(_, message, *_)] = sns_backends[ACCOUNT][REGION].topics[SNS_TOPIC].sent_notifications
    assert json.loads(message)["seq"] == 5
    cloudwatch = boto3.client("cloudwatch", endpoint_url=aws, region_name=REGION)
    assert [m["MetricName"] for m in cloudwatch.list_metrics(Namespace="edgeferry/pumps")["Metrics"]] == ["p0"]
    [failure] = outcome.failures["actions"]
    assert (failure.failed_action, failure.failed_resource) == ("LambdaAction", FUNCTION)
    assert "ResourceNotFoundException" in failure.error_message, "Lambda refuses a function that is not there"
