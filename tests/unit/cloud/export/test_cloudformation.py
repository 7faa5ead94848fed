"""cloud export: the shipped rules file as one CloudFormation stack that cfn-lint accepts and whose
resources match the AWS APIs they create, with no placeholder names and least-privilege roles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from cfnlint.api import lint

from cloud.export.cloudformation import cloudformation_template
from cloud.export.stack import Stack, stack_settings
from cloud.export_aws import ExportError
from cloud.rows.aws_lambda import PROCESSOR_VARIABLE
from cloud.rules.rulesfile import load_rules, parse_rules
from provisioning.service.templates import DEFAULT_TEMPLATE_PATH, load_template
from tests.unit.cloud.export.api_models import CREATE_CALLS, resource_problems

EXAMPLE = Path(__file__).parents[4] / "examples" / "rules.yaml"
STACK = Stack("coldhaul", "111122223333", "eu-west-1", 2555)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return cloudformation_template(load_rules(EXAMPLE), STACK, load_template(DEFAULT_TEMPLATE_PATH),
                                   ingest_rule="edgeferry_telemetry")


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def test_the_shipped_rules_export_to_a_template_cfn_lint_accepts(template: dict[str, Any]) -> None:
    matches = lint(json.dumps(template), regions=[STACK.region])
    assert [str(m) for m in matches] == []


def test_every_resource_matches_the_api_call_that_creates_it(template: dict[str, Any]) -> None:
    kinds = {r["Type"] for r in template["Resources"].values()}
    assert kinds <= CREATE_CALLS.keys(), "every resource type is checked against an API model"
    problems = {name: resource_problems(r) for name, r in template["Resources"].items()}
    assert {name: p for name, p in problems.items() if p} == {}


def test_the_api_check_catches_what_aws_would_refuse() -> None:
    table = {"Type": "AWS::Timestream::Table", "Properties": {
        "DatabaseName": "d", "TableName": "t", "Retention": "2y",
        "RetentionProperties": {"MemoryStoreRetentionPeriodInHours": "forever"}}}
    assert resource_problems(table) == [
        "CreateTable: unknown member Retention",
        "CreateTable.RetentionProperties.MemoryStoreRetentionPeriodInHours: expected an integer, got 'forever'",
        "CreateTable.RetentionProperties: missing required MagneticStoreRetentionPeriodInDays"]
    function = {"Type": "AWS::Lambda::Function", "Properties": {
        "Runtime": "python2.5", "Role": {"Fn::GetAtt": ["R", "Arn"]}, "Code": {}}}
    assert "CreateFunction.Runtime: 'python2.5' is not one of" in " ".join(resource_problems(function))


def test_the_stack_holds_every_part_of_the_pipeline(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    stream = resources["TelemetryStream"]
    assert stream["Properties"]["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert stream["Properties"]["RetentionPeriodHours"] == 24
    [table] = of_type(template, "AWS::Timestream::Table").values()
    assert table["Properties"]["RetentionProperties"] == {
        "MemoryStoreRetentionPeriodInHours": "48", "MagneticStoreRetentionPeriodInDays": "730"}
    [state] = of_type(template, "AWS::DynamoDB::Table").values()
    assert state["Properties"]["TimeToLiveSpecification"] == {"AttributeName": "expires", "Enabled": True}
    assert [k["AttributeName"] for k in state["Properties"]["KeySchema"]] == ["device", "point"]
    firehose = resources["TelemetryDeliveryStream"]["Properties"]["ExtendedS3DestinationConfiguration"]
    assert firehose["Prefix"] == "telemetry/site=!{partitionKeyFromLambda:site}/date=!{partitionKeyFromLambda:date}/"
    assert firehose["DataFormatConversionConfiguration"]["SchemaConfiguration"]["TableName"] == "telemetry"
    glue = resources["TelemetryLakeTable"]["Properties"]["TableInput"]
    assert [k["Name"] for k in glue["PartitionKeys"]] == ["site", "date"]
    assert "site" not in {c["Name"] for c in glue["StorageDescriptor"]["Columns"]}
    audit = resources["AuditBucket"]["Properties"]
    assert audit["ObjectLockConfiguration"]["Rule"]["DefaultRetention"] == {"Mode": "COMPLIANCE", "Days": 2555}
    assert set(of_type(template, "AWS::IoT::TopicRule")) == {
        "EdgeferryTelemetryRule", "EdgeferryAlarmsRule", "HotReefersRule"}
    assert set(of_type(template, "AWS::IoT::Policy")) == {"DevicePolicy", "ClaimPolicy"}
    assert "ProvisioningTemplate" in resources
    assert "arn:aws:iam::123456789012" not in json.dumps(template), "no placeholder account"


def test_the_rows_processor_is_a_lambda_on_the_stream_writing_timestream_and_dynamodb(
        template: dict[str, Any]) -> None:
    [function] = [f for f in of_type(template, "AWS::Lambda::Function").values()
                  if f["Properties"]["Handler"] == "cloud.rows.aws_lambda.kinesis_handler"]
    spec = json.loads(function["Properties"]["Environment"]["Variables"][PROCESSOR_VARIABLE])
    assert spec["timeseries"]["backend"] == {"type": "timestream", "region": "eu-west-1",
                                             "databaseName": "edgeferry", "tableName": "telemetry"}
    assert spec["currentState"]["backend"]["tableName"] == "current_state"
    [mapping] = of_type(template, "AWS::Lambda::EventSourceMapping").values()
    assert mapping["Properties"]["EventSourceArn"] == {"Fn::GetAtt": ["TelemetryStream", "Arn"]}
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_each_rule_action_runs_as_a_role_allowed_only_its_own_call(template: dict[str, Any]) -> None:
    rule = template["Resources"]["EdgeferryTelemetryRule"]["Properties"]["TopicRulePayload"]
    kinesis_role = rule["Actions"][0]["Kinesis"]["RoleArn"]["Fn::GetAtt"][0]
    role = template["Resources"][kinesis_role]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "iot.amazonaws.com"}
    [policy] = role["Policies"]
    assert policy["PolicyDocument"]["Statement"] == [{
        "Effect": "Allow", "Action": ["kinesis:PutRecord"],
        "Resource": ["arn:aws:kinesis:eu-west-1:111122223333:stream/telemetry"]}]
    sqs_role = rule["ErrorAction"]["Sqs"]["RoleArn"]["Fn::GetAtt"][0]
    [sqs_policy] = template["Resources"][sqs_role]["Properties"]["Policies"]
    assert sqs_policy["PolicyDocument"]["Statement"][0]["Resource"] == ["arn:aws:sqs:eu-west-1:111122223333:dlq"]


def test_account_region_and_name_are_required_never_a_placeholder() -> None:
    rules = load_rules(EXAMPLE)
    with pytest.raises(ExportError, match=r"^give --account, --name \(or set them in the rules file's aws: block\)$"):
        stack_settings(rules, account=None, region="eu-west-1", name=None)
    with pytest.raises(ExportError, match="--region 'mars' does not match"):
        stack_settings(rules, account="111122223333", region="mars", name="x")
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["aws"] = {"accountId": "111122223333", "region": "eu-west-1", "stackName": "from-file"}
    assert stack_settings(parse_rules(doc), account=None, region=None, name=None).name == "from-file"


def test_what_aws_cannot_run_is_refused_with_its_place() -> None:
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["rules"][0]["actions"][1]["lake"]["transform"] = "none"
    doc["processors"][0]["timeseries"]["backend"] = {"type": "postgres", "dsn": "host=x"}
    with pytest.raises(ExportError) as caught:
        cloudformation_template(parse_rules(doc), STACK, load_template(DEFAULT_TEMPLATE_PATH),
                                ingest_rule="edgeferry_telemetry")
    assert "rule edgeferry_telemetry: actions[1]: lake telemetry: only the rows transform" in str(caught.value)
    assert "processor rows: timeseries telemetry: a PostgreSQL store" in str(caught.value)


def test_s3_sns_metric_and_lambda_actions_export_with_their_permissions() -> None:
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["rules"][1]["actions"] += [
        {"s3": {"bucketName": "coldhaul-alarms", "key": "${topic(4)}/${timestamp()}.json"}},
        {"sns": {"targetArn": "arn:aws:sns:eu-west-1:111122223333:alarms"}},
        {"cloudwatchMetric": {"metricNamespace": "coldhaul", "metricName": "alarms", "metricValue": "1",
                              "metricUnit": "Count"}},
        {"lambda": {"functionArn": "arn:aws:lambda:eu-west-1:111122223333:function:page-driver",
                    "backend": {"type": "local", "handler": "json:dumps"}}}]
    template = cloudformation_template(parse_rules(doc), STACK, load_template(DEFAULT_TEMPLATE_PATH),
                                       ingest_rule="edgeferry_telemetry")
    assert [str(m) for m in lint(json.dumps(template), regions=[STACK.region])] == []
    assert {n: p for n, r in template["Resources"].items() if (p := resource_problems(r))} == {}
    actions = template["Resources"]["EdgeferryAlarmsRule"]["Properties"]["TopicRulePayload"]["Actions"]
    assert [next(iter(a)) for a in actions] == ["Republish", "Kinesis", "S3", "Sns", "CloudwatchMetric", "Lambda"]
    assert actions[5] == {"Lambda": {"FunctionArn": "arn:aws:lambda:eu-west-1:111122223333:function:page-driver"}}
    [permission] = of_type(template, "AWS::Lambda::Permission").values()
    assert permission["Properties"]["SourceArn"] == "arn:aws:iot:eu-west-1:111122223333:rule/edgeferry_alarms"
    s3_role = actions[2]["S3"]["RoleArn"]["Fn::GetAtt"][0]
    [policy] = template["Resources"][s3_role]["Properties"]["Policies"]
    assert policy["PolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": ["arn:aws:s3:::coldhaul-alarms/*"]}]
    metric_role = actions[4]["CloudwatchMetric"]["RoleArn"]["Fn::GetAtt"][0]
    [metric_policy] = template["Resources"][metric_role]["Properties"]["Policies"]
    assert metric_policy["PolicyDocument"]["Statement"][0]["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": "coldhaul"}}
