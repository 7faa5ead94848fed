"""export-aws: each rule as a TopicRulePayload, checked against botocore's model of CreateTopicRule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from cloud.export_aws import ExportError, export_rules
from cloud.rules.rulesfile import parse_rules

EXAMPLE = Path(__file__).parents[3] / "examples" / "rules.yaml"


def create_topic_rule_problems(name: str, payload: dict[str, Any]) -> str:
    model = botocore.session.get_session().get_service_model("iot")
    shape = model.operation_model("CreateTopicRule").input_shape
    report = ParamValidator().validate({"ruleName": name, "topicRulePayload": payload}, shape)
    return report.generate_report() if report.has_errors() else ""


def every_action_doc(**backends: dict[str, Any]) -> dict[str, Any]:
    return {"aws": {"region": "eu-west-1", "accountId": "111122223333",
                    "roleArn": "arn:aws:iam::111122223333:role/r"},
            "rules": [{"name": "all_actions", "sql": "SELECT * FROM 'dt/+/+/+/telemetry'",
                       "description": "every kind",
                       "actions": [{"stream": {"streamName": "telemetry", **backends.get("stream", {})}},
                                   {"lake": {"table": "lake1"}},
                                   {"timeseries": {"name": "ts1", **backends.get("timeseries", {})}},
                                   {"current_state": {"table": "state1"}},
                                   {"republish": {"topic": "out/${topic(4)}", "qos": 1}}],
                       "errorAction": {"dlq": {"queue": "errors"}}}]}


def test_every_local_action_maps_to_its_aws_action_in_a_valid_payload() -> None:
    payload = export_rules(parse_rules(every_action_doc()))["all_actions"]
    assert create_topic_rule_problems("all_actions", payload) == ""
    assert [next(iter(a)) for a in payload["actions"]] == [
        "kinesis", "firehose", "timestream", "dynamoDBv2", "republish"]
    assert payload["actions"][0]["kinesis"]["partitionKey"] == "${topic(4)}"
    assert payload["actions"][3]["dynamoDBv2"]["putItem"] == {"tableName": "state1"}
    assert payload["errorAction"] == {"sqs": {"roleArn": "arn:aws:iam::111122223333:role/r", "useBase64": False,
                                              "queueUrl": "https://sqs.eu-west-1.amazonaws.com/111122223333/errors"}}
    assert payload["awsIotSqlVersion"] == "2016-03-23"
    assert payload["ruleDisabled"] is False


def test_the_example_rules_file_exports_valid_payloads() -> None:
    from cloud.rules.rulesfile import load_rules

    with pytest.raises(ExportError, match="give --account, --region, --role-arn"):
        export_rules(load_rules(EXAMPLE))
    payloads = export_rules(load_rules(EXAMPLE), account="111122223333", region="eu-west-1",
                            role_arn="arn:aws:iam::111122223333:role/r")
    assert set(payloads) == {"edgeferry_telemetry", "edgeferry_alarms", "hot_reefers"}
    for name, payload in payloads.items():
        assert create_topic_rule_problems(name, payload) == ""
    assert payloads["hot_reefers"]["ruleDisabled"] is True


@pytest.mark.parametrize(("backends", "refusal"), [
    ({"stream": {"backend": {"type": "nats"}}}, "NATS JetStream stream has no AWS IoT rule action"),
    ({"timeseries": {"backend": {"type": "postgres", "dsn": "host=x"}}}, "PostgreSQL time-series store"),
])
def test_backends_without_an_aws_action_are_refused_with_their_place(backends: dict[str, Any],
                                                                     refusal: str) -> None:
    with pytest.raises(ExportError, match=refusal) as caught:
        export_rules(parse_rules(every_action_doc(**backends)))
    assert "rule all_actions: actions[" in str(caught.value)


def test_republish_headers_export_as_the_api_takes_them() -> None:
    doc = every_action_doc()
    doc["rules"][0]["actions"][4]["republish"]["headers"] = {
        "contentType": "application/json", "messageExpiry": "${seq}", "payloadFormatIndicator": "UTF8_DATA",
        "userProperties": [{"key": "site", "value": "${topic(2)}"}]}
    payload = export_rules(parse_rules(doc))["all_actions"]
    assert create_topic_rule_problems("all_actions", payload) == ""
    assert payload["actions"][4]["republish"]["headers"] == {
        "payloadFormatIndicator": "UTF8_DATA", "contentType": "application/json", "messageExpiry": "${seq}",
        "userProperties": [{"key": "site", "value": "${topic(2)}"}]}
