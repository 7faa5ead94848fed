"""IAM roles of the stack, each allowed exactly what one action or function does.

A rule action's role may do the one call AWS IoT makes for it, on the one resource it names
(iot-create-role.html and each action's page: kinesis:PutRecord, firehose:PutRecord,
dynamodb:PutItem, sqs:SendMessage, timestream:WriteRecords plus DescribeEndpoints,
iot:Publish). The trust is limited to this account (aws:SourceAccount) against confused deputies.
"""

from __future__ import annotations

from typing import Any

from cloud.export.stack import Stack


def statement(actions: list[str], resources: list[Any]) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


def role(stack: Stack, service: str, statements: list[dict[str, Any]], *,
         managed: list[str] | None = None) -> dict[str, Any]:
    """Properties of an ``AWS::IAM::Role`` that ``service`` assumes, with one inline policy."""
    properties: dict[str, Any] = {
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": stack.account}}}]},
    }
    if statements:
        properties["Policies"] = [{"PolicyName": "least-privilege",
                                   "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}]
    if managed:
        properties["ManagedPolicyArns"] = managed
    return properties


def rule_action_statements(stack: Stack, kind: str, action: dict[str, Any]) -> list[dict[str, Any]]:
    """What a rule action (as in ``TopicRulePayload``: kind and its camelCase body) may do."""
    if kind == "kinesis":
        return [statement(["kinesis:PutRecord"], [stack.arn("kinesis", f"stream/{action['streamName']}")])]
    if kind == "firehose":
        name = action["deliveryStreamName"]
        return [statement(["firehose:PutRecord", "firehose:PutRecordBatch"],
                          [stack.arn("firehose", f"deliverystream/{name}")])]
    if kind == "dynamoDBv2":
        return [statement(["dynamodb:PutItem"], [stack.arn("dynamodb", f"table/{action['putItem']['tableName']}")])]
    if kind == "sqs":
        return [statement(["sqs:SendMessage"], [stack.arn("sqs", action["queueUrl"].rsplit("/", 1)[-1])])]
    if kind == "timestream":
        return timestream_statements(stack, action["databaseName"], action["tableName"])
    if kind == "s3":
        return [statement(["s3:PutObject"], [f"arn:aws:s3:::{action['bucketName']}/*"])]
    if kind == "sns":
        return [statement(["sns:Publish"], [action["targetArn"]])]
    if kind == "cloudwatchMetric":
        # PutMetricData takes no resource; the namespace condition narrows it (when not a template)
        namespace = action["metricNamespace"]
        limit = {} if "${" in namespace else {"Condition": {"StringEquals": {"cloudwatch:namespace": namespace}}}
        return [{**statement(["cloudwatch:PutMetricData"], ["*"]), **limit}]
    if kind == "republish":
        prefix = action["topic"].split("${", 1)[0]
        return [statement(["iot:Publish"], [stack.arn("iot", f"topic/{prefix}*" if "${" in action["topic"]
                                                      else f"topic/{prefix}")])]
    raise ValueError(f"no IAM statements for rule action {kind}")


def timestream_statements(stack: Stack, database: str, table: str) -> list[dict[str, Any]]:
    """WriteRecords on one table; DescribeEndpoints takes no resource (timestream security docs)."""
    return [statement(["timestream:WriteRecords"], [stack.arn("timestream", f"database/{database}/table/{table}")]),
            statement(["timestream:DescribeEndpoints"], ["*"])]


def log_statements(stack: Stack, function: str) -> list[dict[str, Any]]:
    """A Lambda function's own log group only."""
    group = stack.arn("logs", f"log-group:/aws/lambda/{function}")
    return [statement(["logs:CreateLogGroup"], [group]),
            statement(["logs:CreateLogStream", "logs:PutLogEvents"], [f"{group}:*"])]
