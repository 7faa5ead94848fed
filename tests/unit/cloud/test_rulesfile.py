"""Rules-file validation: AWS's TopicRulePayload shape, every problem reported with its path."""

from __future__ import annotations

from typing import Any

import pytest

from cloud.rules.actions.lake import LakeAction
from cloud.rules.actions.stream import NatsStreamBackend, StreamAction
from cloud.rules.rulesfile import RulesFileError, parse_rules


def problems(doc: Any) -> list[str]:
    with pytest.raises(RulesFileError) as caught:
        parse_rules(doc, "rules.yaml")
    return caught.value.problems


def rule(**fields: Any) -> dict[str, Any]:
    return {"name": "r1", "sql": "SELECT * FROM 'dt/#'", "actions": [{"stream": {"streamName": "s"}}], **fields}


def test_a_valid_file_takes_aws_field_names_and_defaults() -> None:
    rules = parse_rules({"rules": [rule(awsIotSqlVersion="2015-10-08", ruleDisabled=True,
                                        errorAction={"dlq": {}})]})
    spec = rules.rules[0]
    assert (spec.aws_iot_sql_version, spec.rule_disabled) == ("2015-10-08", True)
    assert isinstance(spec.actions[0].config, StreamAction)
    assert spec.actions[0].config.partition_key == "${topic(4)}"
    assert spec.error_action is not None
    assert spec.error_action.kind == "dlq"


def test_backends_are_chosen_by_config() -> None:
    rules = parse_rules({"rules": [rule(actions=[
        {"stream": {"streamName": "s", "backend": {"type": "nats", "servers": ["nats://h:4222"]}}},
        {"lake": {"partitionBy": ["device", "hour"], "backend": {"type": "embedded", "maxFileAge": "30s"}}}])]})
    stream, lake = (a.config for a in rules.rules[0].actions)
    assert isinstance(stream, StreamAction)
    assert isinstance(stream.backend, NatsStreamBackend)
    assert isinstance(lake, LakeAction)
    assert lake.backend.max_file_age == 30.0


def test_every_problem_is_reported_with_its_path() -> None:
    found = problems({"rules": [
        rule(name="bad name", awsIotSqlVersion="2020-01-01"),
        rule(actions=[{"lake": {"partitionBy": ["planet"]}},
                      {"stream": {"streamName": "s", "backend": {"type": "kafka"}}},
                      {"lake": {}, "stream": {"streamName": "s"}},
                      {"timeseries": {"retention": "forever"}},
                      {"stream": {"streamName": "s", "backend": {"type": "kinesis", "colour": 1}}}]),
    ]})
    text = "\n".join(found)
    assert "rules[0].name: String should match pattern" in text
    assert "rules[0].awsIotSqlVersion:" in text
    assert "rules[1].actions[0].lake.partitionBy: unknown partition keys ['planet']" in text
    assert "rules[1].actions[1].stream.backend: unknown backend type 'kafka'" in text
    assert "rules[1].actions[2]: an action names exactly one of" in text
    assert "rules[1].actions[3].timeseries.retention: 'forever' is not a duration" in text
    assert "rules[1].actions[4].stream.backend.colour: Extra inputs are not permitted" in text


def test_sql_errors_and_duplicate_names_are_problems_too() -> None:
    assert problems({"rules": [rule(), rule()]}) == ["(top level): rule names must be unique: r1"]
    [sql_problem] = problems({"rules": [rule(sql="SELECT * FROM")]})
    assert sql_problem.startswith("rules[0].sql: line 1:")


def test_substitution_templates_are_checked_with_their_path() -> None:
    [problem] = problems({"rules": [rule(actions=[{"republish": {"topic": "out/${topic(4)"}}])]})
    assert problem.startswith("rules[0].actions[0].republish.topic: ")


def test_the_top_level_must_be_a_mapping_with_rules() -> None:
    assert problems(["x"]) == ["(top level): expected a mapping with a 'rules' list"]
    assert problems({"rules": []})[0].startswith("rules: List should have at least 1 item")
