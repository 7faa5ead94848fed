"""The AWS backends of the actions (Kinesis, Firehose, DynamoDB, SQS, Timestream) against a moto server."""

from __future__ import annotations

import base64
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from cloud.rules.rulesfile import RulesFile, parse_rules
from cloud.rules.runner import RulesRunner
from tests.unit.cloud.batches import make_batch

ACCOUNT = "123456789012"
REGION = "us-east-1"
INGEST = "$aws/rules/telemetry/dt/plant1/pump/pump-1/telemetry"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A moto server on a free port with the resources the rules use; yields its endpoint URL."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    try:
        # moto's backends live in this process: start every test from an empty account
        urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=30)
        client = _clients(url)
        client["kinesis"].create_stream(StreamName="telemetry", ShardCount=1)
        client["s3"].create_bucket(Bucket="lake")
        client["firehose"].create_delivery_stream(
            DeliveryStreamName="lake-rows", ExtendedS3DestinationConfiguration={
                "RoleARN": f"arn:aws:iam::{ACCOUNT}:role/firehose", "BucketARN": "arn:aws:s3:::lake"})
        client["dynamodb"].create_table(
            TableName="state", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "device", "KeyType": "HASH"},
                       {"AttributeName": "point", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "device", "AttributeType": "S"},
                                  {"AttributeName": "point", "AttributeType": "S"}])
        client["sqs"].create_queue(QueueName="errors")
        client["timestream-write"].create_database(DatabaseName="plant")
        client["timestream-write"].create_table(DatabaseName="plant", TableName="readings")
        yield url
    finally:
        server.stop()


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
            {"current_state": {"table": "state", "ttl": "1d",
                               "backend": {"type": "dynamodb", "tableName": "state", **where}}},
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
    assert sorted((r["seq"], r["point"]) for r in lines) == sorted(
        [(2, "p0"), (2, "p1"), (2, "p2"), (1, "p0"), (1, "p1"), (1, "p2")])

    items = client["dynamodb"].scan(TableName="state")["Items"]
    assert {i["point"]["S"]: json.loads(i["value"]["S"]) for i in items} == dict(newer.last), \
        "the older batch did not overwrite the newer state"
    assert all(int(i["expires"]["N"]) > newer.end // 1000 for i in items)

    from moto.timestreamwrite.models import timestreamwrite_backends

    table = timestreamwrite_backends[ACCOUNT][REGION].databases["plant"].tables["readings"]
    assert {(r["MeasureName"], r["Time"]) for r in table.records} == {
        (r.point, str(r.t)) for r in (*newer.readings, *older.readings)}

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
