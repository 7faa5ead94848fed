"""``edgeferry rules export-aws``: each local rule as the ``TopicRulePayload`` that
``aws iot create-topic-rule --rule-name NAME --topic-rule-payload file://NAME.json`` takes.

Local actions map to the AWS actions they stand in for: stream -> kinesis, lake -> firehose,
current_state -> dynamoDBv2, dlq -> sqs, timeseries -> timestream, republish -> republish. A
backend with no AWS IoT rule action (NATS JetStream, PostgreSQL) is refused with its path.

Every action acts once per message on the rule's output, locally as on AWS: a timestream action
writes each top-level attribute as one record (timestream-rule-action.html), so a batch becomes
one row per reading only through the rows processor (``processors:`` in the rules file), which
``edgeferry cloud export`` deploys as a Lambda function on the Kinesis stream.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cloud.rules.actions import ActionSpec
from cloud.rules.actions.current_state import CurrentStateAction, DynamoDbStateBackend
from cloud.rules.actions.dlq import DlqAction, SqsQueueBackend
from cloud.rules.actions.function import LambdaAction
from cloud.rules.actions.lake import FirehoseLakeBackend, LakeAction
from cloud.rules.actions.metric import CloudwatchMetricAction
from cloud.rules.actions.republish import RepublishAction
from cloud.rules.actions.s3 import S3Action
from cloud.rules.actions.sns import SnsAction
from cloud.rules.actions.stream import NatsStreamBackend, StreamAction
from cloud.rules.actions.timeseries import PostgresTimeseriesBackend, TimeseriesAction, TimestreamBackend
from cloud.rules.rulesfile import (
    RulesFile,
    RulesFileError,
    RuleSpec,
    load_rules,
    print_problems,
)

TIMESTREAM_DATABASE = "edgeferry"


class ExportError(Exception):
    """A rule that has no AWS equivalent; the message names it."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where exported actions go: account and region, and the role each action runs as
    (``role(where)``: an ARN, or a CloudFormation reference to the action's own role)."""

    account: str
    region: str
    role: Callable[[str], Any]


def topic_rule_payload(rule: RuleSpec, target: Target) -> dict[str, Any]:
    """The ``TopicRulePayload`` of one rule (raises :class:`ExportError` for what AWS lacks)."""
    payload: dict[str, Any] = {
        "sql": rule.sql,
        "awsIotSqlVersion": rule.aws_iot_sql_version,
        "ruleDisabled": rule.rule_disabled,
        "actions": [_action(spec, target, action_place(rule.name, i)) for i, spec in enumerate(rule.actions)],
    }
    if rule.description:
        payload["description"] = rule.description
    if rule.error_action is not None:
        payload["errorAction"] = _action(rule.error_action, target, action_place(rule.name, None))
    return payload


def action_place(rule: str, index: int | None) -> str:
    """How problems name an action: ``rule NAME: actions[i]`` or ``rule NAME: errorAction``."""
    return f"rule {rule}: " + ("errorAction" if index is None else f"actions[{index}]")


def export_rules(rules: RulesFile, *, account: str | None = None, region: str | None = None,
                 role_arn: str | None = None) -> dict[str, dict[str, Any]]:
    """Every rule's payload by rule name; every refusal is collected into one :class:`ExportError`.
    Account, region and role come from the arguments, else from the rules file's ``aws:`` block."""
    given = required_settings(account=(account, rules.aws.account_id), region=(region, rules.aws.region),
                              role_arn=(role_arn, rules.aws.role_arn))
    target = Target(given["account"], given["region"], lambda where: given["role_arn"])
    out, problems = {}, []
    for rule in rules.rules:
        try:
            out[rule.name] = topic_rule_payload(rule, target)
        except ExportError as exc:
            problems.append(str(exc))
    if problems:
        raise ExportError("; ".join(problems))
    return out


def required_settings(**given: tuple[str | None, str | None]) -> dict[str, str]:
    """Each setting from its command-line flag, else from the rules file's ``aws:`` block (the
    pair's second value); raise :class:`ExportError` naming every flag still missing."""
    values = {name: flag or from_file for name, (flag, from_file) in given.items()}
    missing = [f"--{name.replace('_', '-')}" for name, value in values.items() if value is None]
    if missing:
        raise ExportError(f"give {', '.join(missing)} (or set them in the rules file's aws: block)")
    return {name: value for name, value in values.items() if value is not None}


def _action(spec: ActionSpec, target: Target, where: str) -> dict[str, Any]:
    config = spec.config
    role = {"roleArn": target.role(where)}
    if isinstance(config, StreamAction):
        if isinstance(config.backend, NatsStreamBackend):
            raise ExportError(f"{where}: a NATS JetStream stream has no AWS IoT rule action "
                              "(use the embedded or kinesis backend)")
        return {"kinesis": {**role, "streamName": config.stream_name, "partitionKey": config.partition_key}}
    if isinstance(config, LakeAction):
        name = config.backend.delivery_stream_name if isinstance(config.backend, FirehoseLakeBackend) \
            else config.table
        return {"firehose": {**role, "deliveryStreamName": name, "separator": "\n", "batchMode": False}}
    if isinstance(config, CurrentStateAction):
        table = config.backend.table_name if isinstance(config.backend, DynamoDbStateBackend) else config.table
        return {"dynamoDBv2": {**role, "putItem": {"tableName": table}}}
    if isinstance(config, DlqAction):
        url = config.backend.queue_url if isinstance(config.backend, SqsQueueBackend) else \
            f"https://sqs.{target.region}.amazonaws.com/{target.account}/{config.queue}"
        use_base64 = config.backend.use_base64 if isinstance(config.backend, SqsQueueBackend) else False
        return {"sqs": {**role, "queueUrl": url, "useBase64": use_base64}}
    if isinstance(config, TimeseriesAction):
        return {"timestream": _timestream(config, role, where)}
    if isinstance(config, S3Action):
        acl = {"cannedAcl": config.canned_acl} if config.canned_acl else {}
        return {"s3": {**role, "bucketName": config.bucket_name, "key": config.key, **acl}}
    if isinstance(config, SnsAction):
        return {"sns": {**role, "targetArn": config.target_arn, "messageFormat": config.message_format}}
    if isinstance(config, CloudwatchMetricAction):
        stamp = {"metricTimestamp": config.metric_timestamp} if config.metric_timestamp else {}
        return {"cloudwatchMetric": {**role, "metricNamespace": config.metric_namespace,
                                     "metricName": config.metric_name, "metricValue": config.metric_value,
                                     "metricUnit": config.metric_unit, **stamp}}
    if isinstance(config, LambdaAction):
        # no role: the function's resource policy lets IoT invoke it (lambda-rule-action.html)
        return {"lambda": {"functionArn": config.function_arn}}
    assert isinstance(config, RepublishAction)
    headers = {"headers": config.headers.model_dump(by_alias=True, exclude_none=True)} if config.headers else {}
    return {"republish": {**role, "topic": config.topic, "qos": config.qos, **headers}}


def _timestream(config: TimeseriesAction, role: dict[str, Any], where: str) -> dict[str, Any]:
    backend = config.backend
    if isinstance(backend, PostgresTimeseriesBackend):
        raise ExportError(f"{where}: a PostgreSQL time-series store has no AWS IoT rule action "
                          "(use the sqlite or timestream backend)")
    database, table = ((backend.database_name, backend.table_name) if isinstance(backend, TimestreamBackend)
                       else (TIMESTREAM_DATABASE, config.name))
    # the local store's dimensions: the device level of the topic, and the row kind; the time is
    # when the rule ran (no ``timestamp``), as the local action stamps it
    return {**role, "databaseName": database, "tableName": table,
            "dimensions": [{"name": "device", "value": "${topic(4)}"}, {"name": "kind", "value": "reading"}]}


def register_export_aws(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``rules export-aws``."""
    parser = sub.add_parser(
        "export-aws", help="write each rule as the TopicRulePayload of `aws iot create-topic-rule`",
        description="Write, per rule, the JSON that `aws iot create-topic-rule --rule-name NAME "
                    "--topic-rule-payload file://DIR/NAME.json` takes. Without --out, print one JSON "
                    "object of all rules by name.")
    parser.add_argument("--rules", type=Path, required=True, help="the rules file (YAML)")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR", help="directory for NAME.json files")
    parser.add_argument("--account", help="AWS account id (default: the rules file's aws.accountId)")
    parser.add_argument("--region", help="AWS region (default: the rules file's aws.region)")
    parser.add_argument("--role-arn", help="the role IoT runs the actions as (default: aws.roleArn)")
    parser.set_defaults(func=run_export_aws)


def run_export_aws(args: argparse.Namespace) -> int:
    try:
        payloads = export_rules(load_rules(args.rules), account=args.account, region=args.region,
                                role_arn=args.role_arn)
    except RulesFileError as exc:
        return print_problems(exc)
    except ExportError as exc:
        print(f"edgeferry: error: cannot export to AWS: {exc}", file=sys.stderr)
        return 1
    if args.out is None:
        print(json.dumps(payloads, indent=2))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, payload in payloads.items():
        path = args.out / f"{name}.json"
        path.write_text(json.dumps(payload, indent=2) + "\n")
        print(path)
    return 0
