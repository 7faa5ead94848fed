"""The AWS backends of the actions (Kinesis, Firehose, DynamoDB, SQS, Timestream) against a moto server."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from cloud.rules.rulesfile import RulesFile, parse_rules
from cloud.rules.runner import RulesRunner
from tests.fixtures.moto import moto_server
from tests.unit.cloud.batches import make_batch

ACCOUNT = "123456789012"
REGION = "us-east-1"
INGEST = "$aws/rules/telemetry/dt/plant1/pump/pump-1/telemetry"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A moto server on a free port with the resources the rules use; yields its endpoint URL."""
    with moto_server(monkeypatch, REGION) as url:
        client = _clients(url)
        client["kinesis"].create_stream(StreamName="telemetry", ShardCount=1)
        client["s3"].create_bucket(Bucket="lake")
        client["firehose"].create_delivery_stream(
            DeliveryStreamName="lake-rows", ExtendedS3DestinationConfiguration={
                "RoleARN": f"arn:aws:iam::{ACCOUNT}:role/firehose", "BucketARN": "arn:aws:s3:::lake"})
        client["dynamodb"].create_table(
            TableName="devices", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "device", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "device", "AttributeType": "S"}])
        client["sqs"].create_queue(QueueName="errors")
        client["timestream-write"].create_database(DatabaseName="plant")
        client["timestream-write"].create_table(DatabaseName="plant", TableName="readings")
        yield url


def _clients(url: str) -> dict[str, Any]:
    return {name: boto3.client(name, endpoint_url=url, region_name=REGION)  # type: ignore[call-overload]
            for name in ("kinesis", "s3", "firehose", "dynamodb", "sqs", "timestream-write")}


def aws_rules(url: str, data: Path) -> RulesFile:
    where = {"endpointUrl": url, "region": REGION}
    queue_url = f"{url}/{ACCOUNT}/errors"
    return parse_rules({"dataDir": str(data), "rules": [{
        "name": "telemetry", "sql": "SELECT * FROM 'dt/+/+/+/telemetry'",
        "actions": [
            {"stream": {"streamName": "telemetry", "backend": {"type": "kinesis", **where}}},
            {"lake": {"backend": {"type": "firehose", "deliveryStreamName": "lake-rows", **where}}},
            {"current_state": {"table": "devices",
                               "backend": {"type": "dynamodb", "tableName": "devices", **where}}},
            {"timeseries": {"backend": {"type": "timestream", "databaseName": "plant",
                                        "tableName": "readings", **where}}},
            {"republish": {"topic": "nowhere"}},
        ],
        "errorAction": {"dlq": {"backend": {"type": "sqs", "queueUrl": queue_url, **where}}},
    }]})


async def test_a_batch_reaches_every_aws_backend_and_failures_reach_sqs(aws: str, tmp_path: Path) -> None:
    newer, older = make_batch(seq=2, readings=3), make_batch(seq=1, readings=3)
    async with RulesRunner(aws_rules(aws, tmp_path / "data")) as runner:
        await runner.process(INGEST, newer.encode(), clientid="pump-1")
        await runner.process(INGEST, older.encode(), clientid="pump-1")
        assert runner.snapshot()["action_errors"] == 2, "only republish fails (no MQTT connection)"
        assert runner.snapshot()["dlq"] == 2
    client = _clients(aws)

    shard = client["kinesis"].describe_stream(StreamName="telemetry")["StreamDescription"]["Shards"][0]
    iterator = client["kinesis"].get_shard_iterator(StreamName="telemetry", ShardId=shard["ShardId"],
                                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = client["kinesis"].get_records(ShardIterator=iterator)["Records"]
    assert [json.loads(r["Data"])["seq"] for r in records] == [2, 1]
    assert records[0]["PartitionKey"] == "pump-1"

    objects = client["s3"].list_objects_v2(Bucket="lake")["Contents"]
    lines = [json.loads(line) for o in objects
             for line in client["s3"].get_object(Bucket="lake", Key=o["Key"])["Body"].read().splitlines()]
    assert sorted(line["seq"] for line in lines) == [1, 2], "firehose puts each message once, as it is"

    [item] = client["dynamodb"].scan(TableName="devices")["Items"]
    assert item["seq"] == {"N": "1"}, "dynamoDBv2 puts the output as one item: the last message wins"
    assert float(item["last"]["M"]["p0"]["N"]) == older.last["p0"]

    from moto.timestreamwrite.models import timestreamwrite_backends

    table = timestreamwrite_backends[ACCOUNT][REGION].databases["plant"].tables["readings"]
    assert {r["MeasureName"] for r in table.records} == {
        "schema", "device", "site", "asset_type", "epoch", "seq", "start", "end"}, \
        "timestream writes each scalar attribute of the output as one measure"

    queue_url = client["sqs"].get_queue_url(QueueName="errors")["QueueUrl"]
    messages = client["sqs"].receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    letters = [json.loads(m["Body"]) for m in messages]
    assert sorted(base64.b64decode(m["base64OriginalPayload"]) for m in letters) == sorted(
        [newer.encode(), older.encode()])
    assert {f["failedAction"] for m in letters for f in m["failures"]} == {"RepublishAction"}
    assert {m["clientId"] for m in letters} == {"pump-1"}


async def test_an_unreachable_aws_backend_is_an_action_failure_not_a_crash(aws: str, tmp_path: Path) -> None:
    doc = parse_rules({"dataDir": str(tmp_path / "data"), "rules": [{
        "name": "telemetry", "sql": "SELECT * FROM 'dt/+/+/+/telemetry'",
        "actions": [{"stream": {"streamName": "missing-stream",
                                "backend": {"type": "kinesis", "endpointUrl": aws}}}],
        "errorAction": {"dlq": {}}}]})
    async with RulesRunner(doc) as runner:
        outcome = await runner.process(INGEST, make_batch().encode())
    [failure] = outcome.failures["telemetry"]
    assert failure.failed_action == "KinesisAction"
    assert failure.failed_resource == "missing-stream"
    assert "ResourceNotFoundException" in failure.error_message
