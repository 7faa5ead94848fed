"""The whole stack as one CloudFormation template, from the rules file and the provisioning
settings: what ``edgeferry cloud export --format cloudformation`` writes."""

from __future__ import annotations

from typing import Any

from cloud.export.functions import add_function
from cloud.export.iam import statement, timestream_statements
from cloud.export.iot import add_provisioning, add_topic_rule
from cloud.export.lambdas import lambda_processor
from cloud.export.stack import Stack, Template, get_arn, logical_id
from cloud.export.stores import (
    add_lake,
    add_queue,
    add_state_table,
    add_stream,
    add_timestream_table,
    queue_name,
)
from cloud.export_aws import ExportError, action_place
from cloud.rows.aws_lambda import PROCESSOR_VARIABLE
from cloud.rows.processor import RowsProcessorSpec
from cloud.rules.actions.current_state import CurrentStateAction
from cloud.rules.actions.dlq import DlqAction
from cloud.rules.actions.lake import LakeAction
from cloud.rules.actions.stream import StreamAction
from cloud.rules.actions.timeseries import TimeseriesAction
from cloud.rules.rulesfile import RulesFile
from provisioning.service.templates import ProvisioningTemplate


def cloudformation_template(rules: RulesFile, stack: Stack, provisioning: ProvisioningTemplate, *,
                            ingest_rule: str) -> dict[str, Any]:
    """The template; every rule or processor AWS cannot run is collected into one :class:`ExportError`."""
    if rules.rule(ingest_rule) is None:
        raise ExportError(f"--ingest-rule {ingest_rule}: no such rule in the rules file")
    t = Template(f"edgeferry stack {stack.name}: IoT rules, stream, lake, stores, rows processors, provisioning")
    problems: list[str] = []
    for rule in rules.rules:
        specs = [(action_place(rule.name, i), spec) for i, spec in enumerate(rule.actions)]
        if rule.error_action is not None:
            specs.append((action_place(rule.name, None), rule.error_action))
        try:
            for where, spec in specs:
                _add_target(t, stack, spec.config, where)
            add_topic_rule(t, stack, rule)
        except ExportError as exc:
            problems.append(str(exc))
    for processor in rules.processors:
        try:
            _add_processor(t, stack, processor)
        except ExportError as exc:
            problems.append(f"processor {processor.name}: {exc}")
    if problems:
        raise ExportError("; ".join(problems))
    add_provisioning(t, stack, provisioning, ingest_rule)
    return t.document()


def _add_target(t: Template, stack: Stack, config: object, where: str) -> None:
    """The resource a rule action writes to (republish writes to none)."""
    try:
        if isinstance(config, StreamAction):
            t.output(logical_id(config.stream_name, "StreamArn"), get_arn(add_stream(t, config)),
                     f"Kinesis stream {config.stream_name}")
        elif isinstance(config, LakeAction):
            add_lake(t, stack, config)
        elif isinstance(config, TimeseriesAction):
            add_timestream_table(t, config)
        elif isinstance(config, CurrentStateAction):
            add_state_table(t, config, per_point=False)
        elif isinstance(config, DlqAction):
            add_queue(t, queue_name(config))
    except ExportError as exc:
        raise ExportError(f"{where}: {exc}") from None


def _add_processor(t: Template, stack: Stack, spec: RowsProcessorSpec) -> None:
    """The rows processor as a Lambda function on its Kinesis stream, writing Timestream and
    DynamoDB; a batch it cannot write after its retries goes to its own failure queue."""
    stream_id = logical_id(spec.stream, "Stream")
    stream_arn = stack.arn("kinesis", f"stream/{spec.stream}")
    failed = add_queue(t, f"{stack.name}-{spec.name}-failed")
    statements = [
        statement(["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords",
                   "kinesis:GetShardIterator", "kinesis:ListShards", "kinesis:SubscribeToShard"], [stream_arn]),
        statement(["kinesis:ListStreams"], ["*"]),
        statement(["sqs:SendMessage"], [get_arn(failed)]),
    ]
    database, state_table = "", ""
    if spec.timeseries is not None:
        database, table = add_timestream_table(t, spec.timeseries)
        statements += timestream_statements(stack, database, table)
    if spec.current_state is not None:
        state_table = add_state_table(t, spec.current_state, per_point=True)
        statements.append(statement(["dynamodb:PutItem"], [stack.arn("dynamodb", f"table/{state_table}")]))
    deployed = lambda_processor(spec, database=database, state_table=state_table, region=stack.region)
    function = add_function(t, stack, f"processor-{spec.name}", "cloud.rows.aws_lambda.kinesis_handler",
                            {PROCESSOR_VARIABLE: deployed.model_dump_json(by_alias=True, exclude_none=True)},
                            statements)
    t.add(logical_id(spec.name, "EventSource"), "AWS::Lambda::EventSourceMapping", {
        "EventSourceArn": get_arn(stream_id), "FunctionName": {"Ref": function},
        "StartingPosition": "TRIM_HORIZON", "BatchSize": spec.batch_size,
        "FunctionResponseTypes": ["ReportBatchItemFailures"], "BisectBatchOnFunctionError": True,
        "MaximumRetryAttempts": 10, "DestinationConfig": {"OnFailure": {"Destination": get_arn(failed)}}})
