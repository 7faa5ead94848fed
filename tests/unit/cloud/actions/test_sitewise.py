"""The iotSiteWise action: values by property alias into the local asset store (with their site,
line, machine and sensor), and the BatchPutAssetPropertyValue request of the AWS backend.

moto does not implement iotsitewise, so the AWS backend's request is checked against botocore's
service model with its Stubber."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from pydantic import ValidationError

from cloud.rules.actions.aws import AwsClient
from cloud.rules.actions.base import ActionMessage, AwsClientConfig
from cloud.rules.actions.sitewise import IotSiteWiseAction, PutAssetPropertyValues
from cloud.rules.rulesfile import parse_rules
from cloud.rules.runner import RulesRunner
from cloud.stores.assets import AssetStore
from cloud.stores.sql import SqlDatabase
from tests.unit.cloud.batches import make_batch

TOPIC = "$aws/rules/assets/dt/plant1/pump/pump-1/telemetry"
ALIAS = "/plant1/line1/${topic(4)}/p0"
ASSETS = {"plant1": {"line1": {"pump-1": {"p0": "/plant1/line1/pump-1/p0", "p1": "/plant1/line1/pump-1/p1"}}}}


def entry(alias: str = ALIAS, **value: str) -> dict[str, Any]:
    return {"propertyAlias": alias, "propertyValues": [{
        "value": value or {"doubleValue": "${last.p0}"},
        "timestamp": {"timeInSeconds": "${floor(timestamp() / 1000)}", "offsetInNanos": "${seq}"},
        "quality": "GOOD"}]}


def sitewise(*entries: dict[str, Any], backend: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"iotSiteWise": {"putAssetPropertyValueEntries": list(entries),
                            "backend": backend or {"type": "local", "assets": ASSETS}}}


async def run(tmp_path: Path, action: dict[str, Any], *seqs: int, now: int | None = None) -> list[Any]:
    doc = parse_rules({"dataDir": str(tmp_path), "rules": [{
        "name": "assets", "sql": "SELECT device FROM 'dt/+/+/+/telemetry'", "actions": [action],
        "errorAction": {"dlq": {}}}]})
    async with RulesRunner(doc) as runner:
        return [await runner.process(TOPIC, make_batch(seq=seq).encode(),
                                     timestamp=now or int(time.time() * 1000)) for seq in seqs]


def history(tmp_path: Path, alias: str) -> list[Any]:
    store = AssetStore(SqlDatabase(path=tmp_path / "sitewise.sqlite"), {})
    store.open()
    try:
        return store.history(alias)
    finally:
        store.close()


async def test_readings_land_on_the_property_with_their_asset_context(tmp_path: Path) -> None:
    now = int(time.time()) * 1000
    outcomes = await run(tmp_path, sitewise(entry(), entry("/plant1/line1/pump-1/p1", integerValue="${seq}")),
                         1, 2, now=now)
    assert [o.failures for o in outcomes] == [{}, {}]
    [first, second] = history(tmp_path, "/plant1/line1/pump-1/p0")
    assert (first.site, first.line, first.machine, first.sensor) == ("plant1", "line1", "pump-1", "p0")
    assert (first.point.seconds, first.point.nanos, first.point.type, first.point.value) == (now // 1000, 1,
                                                                                             "double", "103.0")
    assert (second.point.nanos, second.point.value, second.point.quality) == (2, "203.0", "GOOD")
    assert [p.point.value for p in history(tmp_path, "/plant1/line1/pump-1/p1")] == ["1", "2"]


@pytest.mark.parametrize(("action", "reason"), [
    (sitewise(entry("/plant1/line1/${topic(4)}/p9")), "ResourceNotFoundException: no asset property has the alias"),
    (sitewise(entry(doubleValue="${device}")), "doubleValue 'pump-1' is not a number"),
    (sitewise(entry(integerValue="4294967296")), "is not a 32-bit integer"),
    (sitewise(entry(booleanValue="yes")), "booleanValue 'yes' is not true or false"),
])
async def test_a_value_sitewise_refuses_fails_the_action_into_the_dlq(
        tmp_path: Path, action: dict[str, Any], reason: str) -> None:
    [outcome] = await run(tmp_path, action, 1)
    [failure] = outcome.failures["assets"]
    assert failure.failed_action == "IotSiteWiseAction"
    assert reason in failure.error_message


async def test_a_time_more_than_7_days_old_is_refused(tmp_path: Path) -> None:
    [outcome] = await run(tmp_path, sitewise(entry()), 1, now=int(time.time() * 1000) - 8 * 86_400_000)
    assert "TimestampOutOfRangeException" in outcome.failures["assets"][0].error_message
    assert history(tmp_path, "/plant1/line1/pump-1/p0") == []


def test_the_shape_is_checked_when_the_rules_file_loads() -> None:
    with pytest.raises(ValidationError, match="exactly one of doubleValue"):
        IotSiteWiseAction.model_validate({"putAssetPropertyValueEntries": [entry(doubleValue="1", stringValue="a")]})
    with pytest.raises(ValidationError, match="by propertyAlias, or by assetId and propertyId"):
        IotSiteWiseAction.model_validate({"putAssetPropertyValueEntries": [{"propertyValues": entry()[
            "propertyValues"]}]})
    with pytest.raises(ValidationError, match="local asset store finds properties by propertyAlias"):
        IotSiteWiseAction.model_validate({"putAssetPropertyValueEntries": [
            {"assetId": "a", "propertyId": "p", "propertyValues": entry()["propertyValues"]}]})


async def test_the_aws_backend_sends_batch_put_asset_property_value(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    config = IotSiteWiseAction.model_validate({"putAssetPropertyValueEntries": [
        {**entry(), "entryId": "seq-${seq}"}], "backend": {"type": "sitewise"}})
    client = AwsClient("iotsitewise", AwsClientConfig())
    client._client = boto3.client("iotsitewise", region_name="us-east-1")
    action = PutAssetPropertyValues(config, client)
    message = ActionMessage(rule="assets", topic=TOPIC, payload=make_batch(seq=7).encode(), output={},
                            timestamp=1_795_000_000_500)
    expected = {"entries": [{"entryId": "seq-7", "propertyAlias": "/plant1/line1/pump-1/p0", "propertyValues": [{
        "value": {"doubleValue": 703.0}, "timestamp": {"timeInSeconds": 1_795_000_000, "offsetInNanos": 7},
        "quality": "GOOD"}]}]}
    with Stubber(client._client) as stub:  # validates the request against botocore's model
        stub.add_response("batch_put_asset_property_value", {"errorEntries": []}, expected)
        stub.add_response("batch_put_asset_property_value", {"errorEntries": [{"entryId": "seq-7", "errors": [
            {"errorCode": "TimestampOutOfRangeException", "errorMessage": "too old",
             "timestamps": [{"timeInSeconds": 1_795_000_000}]}]}]}, expected)
        await action(message)
        with pytest.raises(RuntimeError, match="TimestampOutOfRangeException: entry seq-7: too old"):
            await action(message)
        stub.assert_no_pending_responses()
