"""get_dynamodb, get_secret, get_registry_data, get_thing_shadow and aws_lambda served by AWS (a moto
server) inside rules run by the rules runner, in SELECT and WHERE alike."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from cloud.rules.rulesfile import RulesFileError, parse_rules
from cloud.rules.runner import RulesRunner
from tests.fixtures.moto import moto_server
from tests.unit.cloud.batches import make_batch

REGION = "us-east-1"
ROLE = "'arn:aws:iam::123456789012:role/rules'"
TOPIC = "dt/plant1/pump/pump-1/telemetry"
SQL = (f"SELECT get_dynamodb('devices', 'device', topic(4), {ROLE}).setpoint AS setpoint, "
       f"get_secret('edgeferry/api', 'SecretString', 'token', {ROLE}) AS token, "
       f"get_registry_data('DescribeThing', topic(4), {ROLE}).attributes.site AS site, "
       f"get_registry_data('ListThingGroupsForThing', topic(4), {ROLE}).thingGroups[0].groupName AS grp, "
       f"get_thing_shadow(topic(4), {ROLE}).state.reported.mode AS mode, "
       f"aws_lambda('arn:aws:lambda:us-east-1:123456789012:function:absent', {{\"a\": 1}}) AS absent "
       f"FROM 'dt/+/+/+/telemetry' WHERE last.p0 > get_dynamodb('devices', 'device', topic(4), {ROLE}).setpoint")


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with moto_server(monkeypatch, REGION) as url:
        def client(name: str):  # type: ignore[no-untyped-def]
            return boto3.client(name, endpoint_url=url, region_name=REGION)  # type: ignore[call-overload]

        client("dynamodb").create_table(
            TableName="devices", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "device", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "device", "AttributeType": "S"}])
        client("dynamodb").put_item(TableName="devices", Item={"device": {"S": "pump-1"}, "setpoint": {"N": "250"}})
        client("secretsmanager").create_secret(Name="edgeferry/api", SecretString=json.dumps({"token": "s3cr3t"}))
        iot = client("iot")
        iot.create_thing(thingName="pump-1", attributePayload={"attributes": {"site": "plant1"}})
        iot.create_thing_group(thingGroupName="pumps")
        iot.add_thing_to_thing_group(thingGroupName="pumps", thingName="pump-1")
        client("iot-data").update_thing_shadow(
            thingName="pump-1", payload=json.dumps({"state": {"reported": {"mode": "auto"}}}).encode())
        yield url


class Published(list[tuple[str, bytes, int]]):
    async def __call__(self, topic: str, payload: bytes, qos: int) -> None:
        self.append((topic, payload, qos))


async def test_service_functions_resolve_against_aws(aws: str, tmp_path: Path) -> None:
    doc = parse_rules({"dataDir": str(tmp_path), "functions": {"type": "aws", "region": REGION, "endpointUrl": aws},
                       "rules": [{"name": "enrich", "sql": SQL, "actions": [{"republish": {"topic": "out"}}]}]})
    published = Published()
    async with RulesRunner(doc, publish=published) as runner:
        hot = await runner.process(TOPIC, make_batch(seq=3).encode())
        cold = await runner.process(TOPIC, make_batch(seq=1).encode())
    assert (hot.fired, cold.fired) == (["enrich"], []), "the WHERE compares last.p0 with the table's setpoint"
    [(_, payload, _)] = published
    assert json.loads(payload) == {"setpoint": 250, "token": "s3cr3t", "site": "plant1", "grp": "pumps",
                                   "mode": "auto"}, "a failing aws_lambda() is Undefined and leaves its key out"


def test_a_rule_calling_a_service_function_needs_the_functions_block(tmp_path: Path) -> None:
    with pytest.raises(RulesFileError) as caught:
        parse_rules({"rules": [{"name": "enrich", "sql": SQL}]})
    assert any("get_dynamodb" in problem for problem in caught.value.problems)
