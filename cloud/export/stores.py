"""The data resources behind the actions: Kinesis streams, the Parquet lake (Firehose, its
transformation, S3, Glue), Timestream, DynamoDB and SQS.

Names are the rules file's (a stream's ``streamName``, a lake's ``table``, a DynamoDB table's
``table``, a queue's ``queue``, or the AWS backend's own names); the buckets and the Glue
database take the stack's name.
"""

from __future__ import annotations

import math

import pyarrow as pa

from cloud.export.functions import add_function
from cloud.export.iam import role, statement
from cloud.export.stack import Stack, Template, get_arn, logical_id
from cloud.export_aws import TIMESTREAM_DATABASE, ExportError
from cloud.rows.aws_lambda import PARTITION_VARIABLE
from cloud.rules.actions.current_state import CurrentStateAction, DynamoDbStateBackend
from cloud.rules.actions.dlq import DlqAction, SqsQueueBackend
from cloud.rules.actions.lake import EmbeddedLakeBackend, FirehoseLakeBackend, LakeAction
from cloud.rules.actions.stream import EmbeddedStreamBackend, StreamAction
from cloud.rules.actions.timeseries import PostgresTimeseriesBackend, TimeseriesAction, TimestreamBackend
from cloud.stores.lake import ARROW_TYPES

HOUR, DAY = 3600.0, 86_400.0
_GLUE_TYPES = {pa.string(): "string", pa.int64(): "bigint", pa.float64(): "double", pa.int8(): "tinyint"}
FIREHOSE_BUFFER_MB = 128
"""Dynamic partitioning and Parquet conversion need at least 64 MB buffers (dynamic-partitioning.html)."""


def add_stream(t: Template, config: StreamAction) -> str:
    """An on-demand Kinesis stream, its retention as the embedded backend's (24 h .. 365 days)."""
    retention = config.backend.retention if isinstance(config.backend, EmbeddedStreamBackend) else DAY
    hours = min(8760, max(24, math.ceil(retention / HOUR)))
    return t.add(logical_id(config.stream_name, "Stream"), "AWS::Kinesis::Stream", {
        "Name": config.stream_name, "StreamModeDetails": {"StreamMode": "ON_DEMAND"},
        "RetentionPeriodHours": hours, "StreamEncryption": {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"}})


def timestream_names(config: TimeseriesAction) -> tuple[str, str]:
    backend = config.backend
    if isinstance(backend, TimestreamBackend):
        return backend.database_name, backend.table_name
    if isinstance(backend, PostgresTimeseriesBackend):
        raise ExportError(f"timeseries {config.name}: a PostgreSQL store has no AWS equivalent in the stack "
                          "(use the sqlite or timestream backend)")
    return TIMESTREAM_DATABASE, config.name


TIMESTREAM_MAINTENANCE = {"cfn-lint": {"config": {"ignore_checks": ["W3697"]}}}
"""Timestream for LiveAnalytics takes no new customers since 2025-06-20 (cfn-lint W3697): an account
that has it keeps it; elsewhere choose the PostgreSQL time-series store (the RDS path)."""


def add_timestream_table(t: Template, config: TimeseriesAction) -> tuple[str, str]:
    """The database and table, memory and magnetic retention as configured; (database, table)."""
    database, table = timestream_names(config)
    db_id = t.add(logical_id(database, "TimestreamDatabase"), "AWS::Timestream::Database",
                  {"DatabaseName": database}, Metadata=TIMESTREAM_MAINTENANCE)
    t.add(logical_id(database, table, "TimestreamTable"), "AWS::Timestream::Table", {
        "DatabaseName": database, "TableName": table,
        "RetentionProperties": {
            "MemoryStoreRetentionPeriodInHours": str(min(8766, max(1, math.ceil(config.memory_retention / HOUR)))),
            "MagneticStoreRetentionPeriodInDays": str(min(73000, max(1, math.ceil(config.retention / DAY))))}},
        DependsOn=[db_id], Metadata=TIMESTREAM_MAINTENANCE)
    return database, table


def state_table_name(config: CurrentStateAction) -> str:
    return config.backend.table_name if isinstance(config.backend, DynamoDbStateBackend) else config.table


def add_state_table(t: Template, config: CurrentStateAction, *, per_point: bool) -> str:
    """A DynamoDB table on demand: keyed by ``device`` for an action (the output is the item), by
    ``device`` and ``point`` for a rows processor; TTL on ``expires``."""
    name = state_table_name(config)
    keys = ["device", "point"] if per_point else ["device"]
    t.add(logical_id(name, "Table"), "AWS::DynamoDB::Table", {
        "TableName": name, "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": k, "KeyType": kind} for k, kind in zip(keys, ("HASH", "RANGE"), strict=False)],
        "AttributeDefinitions": [{"AttributeName": k, "AttributeType": "S"} for k in keys],
        "TimeToLiveSpecification": {"AttributeName": "expires", "Enabled": True},
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}},
        DeletionPolicy="Retain", UpdateReplacePolicy="Retain")
    return name


def queue_name(config: DlqAction) -> str:
    return config.backend.queue_url.rsplit("/", 1)[-1] if isinstance(config.backend, SqsQueueBackend) else config.queue


def add_queue(t: Template, name: str) -> str:
    """An SQS queue keeping messages the longest SQS allows (14 days)."""
    return t.add(logical_id(name, "Queue"), "AWS::SQS::Queue", {
        "QueueName": name, "MessageRetentionPeriod": 1_209_600, "SqsManagedSseEnabled": True})


def add_lake(t: Template, stack: Stack, config: LakeAction) -> str:
    """The delivery stream of a lake action: the rows transformation, Parquet per the Glue table,
    partitioned by the lake's keys, the raw batches kept in the audit bucket; returns its name."""
    if config.transform != "rows":
        raise ExportError(f"lake {config.table}: only the rows transform has an AWS equivalent "
                          "(Firehose's Parquet conversion needs the lake's columns)")
    name = config.backend.delivery_stream_name if isinstance(config.backend, FirehoseLakeBackend) else config.table
    lake_bucket, audit_bucket = _add_buckets(t, stack)
    table = _add_glue_table(t, stack, config, lake_bucket)
    transform = add_function(t, stack, f"{config.table}-lake-rows", "cloud.rows.aws_lambda.firehose_handler",
                             {PARTITION_VARIABLE: ",".join(config.partition_by)}, [])
    age = config.backend.max_file_age if isinstance(config.backend, EmbeddedLakeBackend) else 300.0
    buffering = {"SizeInMBs": FIREHOSE_BUFFER_MB, "IntervalInSeconds": int(min(900, max(60, age)))}
    role_id = t.add(logical_id(name, "FirehoseRole"), "AWS::IAM::Role", role(stack, "firehose.amazonaws.com", [
        statement(["s3:AbortMultipartUpload", "s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket",
                   "s3:ListBucketMultipartUploads", "s3:PutObject"],
                  [f"arn:aws:s3:::{b}{suffix}" for b in (stack.lake_bucket, stack.audit_bucket) for suffix in ("", "/*")]),
        statement(["glue:GetTable", "glue:GetTableVersion", "glue:GetTableVersions"],
                  [stack.arn("glue", "catalog"), stack.arn("glue", f"database/{stack.glue_database}"),
                   stack.arn("glue", f"table/{stack.glue_database}/{config.table}")]),
        statement(["lambda:InvokeFunction", "lambda:GetFunctionConfiguration"],
                  [get_arn(transform), {"Fn::Sub": f"${{{transform}.Arn}}:*"}]),
        statement(["logs:PutLogEvents"], [stack.arn("logs", f"log-group:/aws/kinesisfirehose/{name}:*")]),
    ]))
    keys = "/".join(f"{key}=!{{partitionKeyFromLambda:{key}}}" for key in config.partition_by)
    t.add(logical_id(name, "DeliveryStream"), "AWS::KinesisFirehose::DeliveryStream", {
        "DeliveryStreamName": name, "DeliveryStreamType": "DirectPut",
        "ExtendedS3DestinationConfiguration": {
            "BucketARN": get_arn(lake_bucket), "RoleARN": get_arn(role_id),
            "Prefix": f"{config.table}/{keys}/", "ErrorOutputPrefix": f"errors/{config.table}/!{{firehose:error-output-type}}/",
            "BufferingHints": buffering,
            "DynamicPartitioningConfiguration": {"Enabled": True, "RetryOptions": {"DurationInSeconds": 300}},
            "ProcessingConfiguration": {"Enabled": True, "Processors": [{"Type": "Lambda", "Parameters": [
                {"ParameterName": "LambdaArn", "ParameterValue": get_arn(transform)}]}]},
            "DataFormatConversionConfiguration": {
                "Enabled": True,
                "InputFormatConfiguration": {"Deserializer": {"OpenXJsonSerDe": {}}},
                "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {"Compression": "SNAPPY"}}},
                "SchemaConfiguration": {"CatalogId": stack.account, "DatabaseName": stack.glue_database,
                                        "TableName": config.table, "Region": stack.region,
                                        "RoleARN": get_arn(role_id), "VersionId": "LATEST"}},
            "S3BackupMode": "Enabled",
            "S3BackupConfiguration": {"BucketARN": get_arn(audit_bucket), "RoleARN": get_arn(role_id),
                                      "Prefix": f"{config.table}/", "CompressionFormat": "GZIP",
                                      "BufferingHints": {"SizeInMBs": 64, "IntervalInSeconds": 900}},
        }}, DependsOn=[table])
    return name


def _add_buckets(t: Template, stack: Stack) -> tuple[str, str]:
    """The lake bucket (rows, lifecycle to infrequent access) and the audit bucket (the raw batches,
    write-once: Object Lock in compliance mode for ``auditRetentionDays``)."""
    private = {"BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
               "RestrictPublicBuckets": True}
    encrypted = {"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
    keep = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
    lake = t.add("LakeBucket", "AWS::S3::Bucket", {
        "BucketName": stack.lake_bucket, "PublicAccessBlockConfiguration": private, "BucketEncryption": encrypted,
        "LifecycleConfiguration": {"Rules": [
            {"Id": "rows-to-infrequent-access", "Status": "Enabled",
             "Transitions": [{"StorageClass": "STANDARD_IA", "TransitionInDays": 30}]},
            {"Id": "errors-expire", "Status": "Enabled", "Prefix": "errors/", "ExpirationInDays": 30}]}}, **keep)
    audit = t.add("AuditBucket", "AWS::S3::Bucket", {
        "BucketName": stack.audit_bucket, "PublicAccessBlockConfiguration": private, "BucketEncryption": encrypted,
        "VersioningConfiguration": {"Status": "Enabled"}, "ObjectLockEnabled": True,
        "ObjectLockConfiguration": {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {
            "Mode": "COMPLIANCE", "Days": stack.audit_retention_days}}},
        "LifecycleConfiguration": {"Rules": [{"Id": "batches-to-glacier", "Status": "Enabled",
                                              "Transitions": [{"StorageClass": "GLACIER_IR", "TransitionInDays": 90}]}]}},
        **keep)
    return lake, audit


def _add_glue_table(t: Template, stack: Stack, config: LakeAction, bucket: str) -> str:
    """The lake's Glue table: the row columns (less the partition keys) in Parquet, partitioned."""
    database = t.add("LakeDatabase", "AWS::Glue::Database", {
        "CatalogId": stack.account, "DatabaseInput": {"Name": stack.glue_database}})
    columns = [{"Name": name, "Type": _GLUE_TYPES[kind]} for name, kind in ARROW_TYPES.items()
               if name not in config.partition_by]
    return t.add(logical_id(config.table, "LakeTable"), "AWS::Glue::Table", {
        "CatalogId": stack.account, "DatabaseName": stack.glue_database,
        "TableInput": {
            "Name": config.table, "TableType": "EXTERNAL_TABLE", "Parameters": {"classification": "parquet"},
            "PartitionKeys": [{"Name": key, "Type": "string"} for key in config.partition_by],
            "StorageDescriptor": {
                "Columns": columns, "Location": f"s3://{stack.lake_bucket}/{config.table}/",
                "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"}}}},
        DependsOn=[database, bucket])


