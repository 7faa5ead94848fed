"""The shipped rules file gives the same rows on the rig and on AWS.

The same messages go through the local runner (rules, embedded stream, rows processor, embedded
stores) and through the AWS-shaped path the export deploys: the rule's output as Kinesis
records into the Lambda handler (writing Timestream and DynamoDB on a moto server), and as
Firehose records into the transformation Lambda in front of the lake.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from cloud.export.lambdas import lambda_processor
from cloud.rows.aws_lambda import PROCESSOR_VARIABLE, firehose_handler, kinesis_handler
from cloud.rules import compile_rule
from cloud.rules.rulesfile import RulesFile, parse_rules
from cloud.rules.runner import RulesRunner
from cloud.stores.current_state import CurrentStateStore
from cloud.stores.lake import LakeStore
from cloud.stores.records import encode_output
from cloud.stores.sql import SqlDatabase
from tests.fixtures.moto import moto_server
from tests.unit.cloud.batches import make_batch

ACCOUNT, REGION = "123456789012", "eu-west-1"
EXAMPLE = Path(__file__).parents[3] / "examples" / "rules.yaml"
RULE = "edgeferry_telemetry"
Message = tuple[str, bytes]


def shipped_rules(data: Path) -> RulesFile:
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["dataDir"] = str(data)
    return parse_rules(doc, str(EXAMPLE))


def messages() -> list[Message]:
    """Two trailers' batches (readings and windows, both envelope forms), one redelivered, one
    refused by the WHERE."""
    t0 = int(time.time() * 1000) - 3_600_000
    batches = [make_batch("reefer-1", seq, readings=5, windows=2, site="depot-a", t0=t0) for seq in (1, 2)]
    batches += [make_batch("reefer-2", 1, readings=7, site="depot-b", t0=t0)]
    batches += [dataclasses.replace(make_batch("reefer-2", 2, readings=6, site="depot-b", t0=t0), compact=True)]
    out = [(f"$aws/rules/{RULE}/dt/{b.site}/reefer/{b.device}/telemetry", b.encode()) for b in batches]
    out.append(out[0])
    out.append((f"$aws/rules/{RULE}/dt/depot-a/reefer/reefer-9/telemetry", batches[0].encode()))
    return out


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with moto_server(monkeypatch, REGION) as url:
        yield url


async def run_locally(rules: RulesFile, sent: list[Message]) -> dict[str, Any]:
    async with RulesRunner(rules) as runner:
        for topic, payload in sent:
            await runner.process(topic, payload)
        await runner.catch_up()
    data = rules.data_dir
    with sqlite3.connect(data / "timeseries" / "telemetry.db") as db:
        raw = db.execute("SELECT device, point, t, kind, value, text, min, max, avg, n, w FROM ts_raw").fetchall()
    timeseries = {(d, p, t, k, frozenset((n, v) for n, v in {
        "value": value, "text": text, "min": mn, "max": mx, "avg": avg, "n": n, "w": w}.items() if v is not None))
        for d, p, t, k, value, text, mn, mx, avg, n, w in raw}
    state_store = CurrentStateStore(SqlDatabase(path=data / "current_state" / "current_state.db"))
    state_store.open()
    state = {(s.device, s.point, s.t, s.value) for device in ("reefer-1", "reefer-2")
             for s in await state_store.latest(device)}
    state_store.close()
    lake = LakeStore(data / "lake" / "telemetry", partition_by=["site", "date"])
    lake.open()
    lake_rows = {tuple(sorted((k, v) for k, v in row.items() if k != "date"))  # "date" is the path's
                 for row in lake.table().to_pylist()}
    lake.close()
    partitions = {str(p.parent.relative_to(data / "lake" / "telemetry"))
                  for p in (data / "lake" / "telemetry").rglob("*.parquet")}
    return {"timeseries": timeseries, "state": state, "lake": lake_rows, "partitions": partitions}


def run_on_aws(rules: RulesFile, sent: list[Message], url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    spec = rules.rule(RULE)
    assert spec is not None
    rule = compile_rule(spec.sql, sql_version=spec.aws_iot_sql_version)
    outputs = [encode_output(out) for topic, payload in sent
               if (out := rule.evaluate(topic, payload)) is not None]
    [processor] = rules.processors
    timestream = boto3.client("timestream-write", endpoint_url=url, region_name=REGION)
    timestream.create_database(DatabaseName="edgeferry")
    timestream.create_table(DatabaseName="edgeferry", TableName="telemetry")
    dynamodb = boto3.client("dynamodb", endpoint_url=url, region_name=REGION)
    dynamodb.create_table(
        TableName="edgeferry-current_state", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "device", "KeyType": "HASH"}, {"AttributeName": "point", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "device", "AttributeType": "S"},
                              {"AttributeName": "point", "AttributeType": "S"}])
    deployed = lambda_processor(processor, database="edgeferry", state_table="edgeferry-current_state",
                                region=REGION, endpoint_url=url)
    monkeypatch.setenv(PROCESSOR_VARIABLE, deployed.model_dump_json(by_alias=True))
    event = {"Records": [{"eventSource": "aws:kinesis", "kinesis": {
        "data": base64.b64encode(data).decode(), "sequenceNumber": str(i), "partitionKey": "k"}}
        for i, data in enumerate(outputs)]}
    assert kinesis_handler(event) == {"batchItemFailures": []}

    from moto.timestreamwrite.models import timestreamwrite_backends

    records = timestreamwrite_backends[ACCOUNT][REGION].databases["edgeferry"].tables["telemetry"].records
    timeseries = {_timestream_row(r) for r in records}
    state = {(i["device"]["S"], i["point"]["S"], int(i["t"]["N"]), json.loads(i["value"]["S"]))
             for i in dynamodb.scan(TableName="edgeferry-current_state")["Items"]}
    transformed = firehose_handler({"records": [
        {"recordId": str(i), "approximateArrivalTimestamp": 0, "data": base64.b64encode(data + b"\n").decode()}
        for i, data in enumerate(outputs)]})["records"]
    assert {r["result"] for r in transformed} == {"Ok"}
    lake = {tuple(sorted(json.loads(line).items())) for r in transformed
            for line in base64.b64decode(r["data"]).splitlines()}
    partitions = {"/".join(f"{k}={v}" for k, v in r["metadata"]["partitionKeys"].items()) for r in transformed}
    return {"timeseries": timeseries, "state": state, "lake": lake, "partitions": partitions}


def _timestream_row(record: dict[str, Any]) -> tuple[Any, ...]:
    dims = {d["Name"]: d["Value"] for d in record["Dimensions"]}
    if record["MeasureValueType"] == "MULTI":
        values = frozenset((m["Name"], int(m["Value"]) if m["Type"] == "BIGINT" else float(m["Value"]))
                           for m in record["MeasureValues"])
    elif record["MeasureValueType"] == "VARCHAR":
        values = frozenset({("text", record["MeasureValue"])})
    else:
        values = frozenset({("value", float(record["MeasureValue"]))})
    return (dims["device"], record["MeasureName"], int(record["Time"]), dims["kind"], values)


async def test_the_shipped_rules_write_the_same_rows_locally_and_on_aws(
        tmp_path: Path, moto: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rules = shipped_rules(tmp_path / "data")
    sent = messages()
    local = await run_locally(rules, sent)
    aws = await asyncio.to_thread(run_on_aws, rules, sent, moto, monkeypatch)  # Lambda runs its own loop
    assert len(local["timeseries"]) == 5 + 2 + 5 + 2 + 7 + 6, "every reading and window of the four batches"
    assert aws["timeseries"] == local["timeseries"]
    assert {(d, p) for d, p, _, _ in local["state"]} == {
        ("reefer-1", "p0"), ("reefer-1", "p1"), ("reefer-1", "p2"),
        ("reefer-2", "p0"), ("reefer-2", "p1"), ("reefer-2", "p2")}
    assert aws["state"] == local["state"]
    assert len(local["lake"]) == 27
    assert aws["lake"] == local["lake"]
    assert aws["partitions"] == local["partitions"]
