"""The processors' Lambda handler on Kinesis-shaped events, notifying SQS and SNS on a moto server;
a retried event changes nothing twice."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from cloud.processors.lambda_handler import handler
from cloud.stream.log import shard_for
from tests.fixtures.moto import MOTO_REGION
from tests.integration.cloud.processors.fleet_stream import alarm_history, temps_of
from tests.unit.cloud.processors.scenarios import EXAMPLES, trailer

SHARDS = 2


def kinesis_event(trailers: int) -> dict[str, Any]:
    """Lambda's Kinesis event shape: ``eventID`` ``shardId-<n>:<sequence>``, base64 ``data``."""
    records, seqs = [], [49590338271490256608559692538361571095921575989136588898] * SHARDS
    for i in range(trailers):
        temps, doors = temps_of(i)
        for b in trailer(f"reefer-{i:03d}", temps, door_at=doors):
            shard = shard_for(b.device, SHARDS)
            seqs[shard] += 1
            records.append({
                "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": b.device,
                            "sequenceNumber": str(seqs[shard]), "data": base64.b64encode(b.encode()).decode(),
                            "approximateArrivalTimestamp": 1545084650.987},
                "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventName": "aws:kinesis:record",
                "eventID": f"shardId-{shard:012d}:{seqs[shard]}", "awsRegion": MOTO_REGION,
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/telemetry"})
    return {"Records": records}


def test_kinesis_events_raise_each_alarm_once_even_when_lambda_retries(
        moto_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sqs = boto3.client("sqs", endpoint_url=moto_url, region_name=MOTO_REGION)
    sns = boto3.client("sns", endpoint_url=moto_url, region_name=MOTO_REGION)
    queue = sqs.create_queue(QueueName="dispatch")["QueueUrl"]
    topic = sns.create_topic(Name="alarms")["TopicArn"]
    mirror = sqs.create_queue(QueueName="sns-mirror")["QueueUrl"]
    mirror_arn = sqs.get_queue_attributes(QueueUrl=mirror, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=mirror_arn)
    raw = yaml.safe_load((EXAMPLES / "reefer.yaml").read_text())
    raw["clock"] = "event"
    for model in raw["detectorModels"]:
        for alarm in model["alarms"]:
            alarm["notify"] = [{"sqs": {"queueUrl": queue, "endpointUrl": moto_url}},
                               {"sns": {"targetArn": topic, "endpointUrl": moto_url}}]
    config = tmp_path / "processors.yaml"
    config.write_text(yaml.safe_dump(raw))
    state = tmp_path / "state.db"
    monkeypatch.setenv("EDGEFERRY_PROCESSORS_CONFIG", str(config))
    monkeypatch.setenv("EDGEFERRY_PROCESSORS_STATE", str(state))

    event = kinesis_event(12)
    half = {"Records": event["Records"][: len(event["Records"]) // 2]}
    assert handler(half, None) == {"batchItemFailures": []}
    assert handler(event, None) == {"batchItemFailures": []}  # a retry of the first half, and more
    assert handler(event, None) == {"batchItemFailures": []}

    raised = sorted(str(o) for o, _, s, cause in alarm_history(state) if cause == "raise")
    assert len(raised) == 4 + 3  # trailers 0, 3, 6, 9 stay warm; 0, 4, 8 open the door moving
    received = drain(sqs, queue)
    assert sorted(m["id"] for m in received) == raised
    assert sorted(json.loads(m["Message"])["id"] for m in drain(sqs, mirror)) == raised


def drain(sqs: Any, queue: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
        out += [json.loads(m["Body"]) for m in batch]
        sqs.delete_message_batch(QueueUrl=queue, Entries=[
            {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(batch)])
    return out
