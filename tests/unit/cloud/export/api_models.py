"""Check a CloudFormation resource's properties against botocore's model of the API call it maps to.

CloudFormation spells most properties as the API does, up to case (``Sql`` / ``sql``); where it
renames one (``AWS::Kinesis::Stream`` ``Name`` is CreateStream's ``StreamName``) the table says
so, and a property that CloudFormation applies with another call (a bucket's Object Lock
configuration is PutObjectLockConfiguration's) is checked against that call's member.
Intrinsic functions (``Ref``, ``Fn::...``) stand for values resolved at deploy time and pass.
"""

from __future__ import annotations

from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, Shape, StructureShape

CREATE_CALLS: dict[str, tuple[str, str, dict[str, str], frozenset[str]]] = {
    # type: (service, operation, CloudFormation name -> API name, properties applied by other calls)
    "AWS::IoT::TopicRule": ("iot", "CreateTopicRule", {}, frozenset()),
    "AWS::IoT::Policy": ("iot", "CreatePolicy", {}, frozenset()),
    "AWS::IoT::ThingGroup": ("iot", "CreateThingGroup", {}, frozenset()),
    "AWS::IoT::ProvisioningTemplate": ("iot", "CreateProvisioningTemplate", {"TemplateType": "type"}, frozenset()),
    "AWS::Kinesis::Stream": ("kinesis", "CreateStream", {"Name": "StreamName"},
                             frozenset({"RetentionPeriodHours", "StreamEncryption"})),
    "AWS::KinesisFirehose::DeliveryStream": ("firehose", "CreateDeliveryStream", {}, frozenset()),
    "AWS::Glue::Database": ("glue", "CreateDatabase", {}, frozenset()),
    "AWS::Glue::Table": ("glue", "CreateTable", {}, frozenset()),
    "AWS::Timestream::Database": ("timestream-write", "CreateDatabase", {}, frozenset()),
    "AWS::Timestream::Table": ("timestream-write", "CreateTable", {}, frozenset()),
    "AWS::DynamoDB::Table": ("dynamodb", "CreateTable", {},
                             frozenset({"TimeToLiveSpecification", "PointInTimeRecoverySpecification"})),
    "AWS::SQS::Queue": ("sqs", "CreateQueue", {}, frozenset({"MessageRetentionPeriod", "SqsManagedSseEnabled"})),
    "AWS::Lambda::Function": ("lambda", "CreateFunction", {}, frozenset()),
    "AWS::Lambda::EventSourceMapping": ("lambda", "CreateEventSourceMapping", {}, frozenset()),
    "AWS::Lambda::Permission": ("lambda", "AddPermission", {}, frozenset()),
    "AWS::IAM::Role": ("iam", "CreateRole", {}, frozenset({"Policies", "ManagedPolicyArns"})),
    "AWS::S3::Bucket": ("s3", "CreateBucket", {"BucketName": "Bucket", "ObjectLockEnabled": "ObjectLockEnabledForBucket"},
                        frozenset({"ObjectLockConfiguration", "LifecycleConfiguration", "BucketEncryption",
                                   "PublicAccessBlockConfiguration", "VersioningConfiguration"})),
}
GENERATED = {"AWS::IAM::Role": "RoleName", "AWS::Lambda::Permission": "StatementId"}
"""Required API members CloudFormation fills in itself when the template leaves them out."""
OTHER_CALLS: dict[tuple[str, str], tuple[str, str, str]] = {
    # (type, property): (service, operation, member) where CloudFormation's shape is the API's
    ("AWS::S3::Bucket", "ObjectLockConfiguration"): ("s3", "PutObjectLockConfiguration", "ObjectLockConfiguration"),
    ("AWS::S3::Bucket", "PublicAccessBlockConfiguration"): ("s3", "PutPublicAccessBlock",
                                                            "PublicAccessBlockConfiguration"),
    ("AWS::S3::Bucket", "VersioningConfiguration"): ("s3", "PutBucketVersioning", "VersioningConfiguration"),
    ("AWS::DynamoDB::Table", "TimeToLiveSpecification"): ("dynamodb", "UpdateTimeToLive", "TimeToLiveSpecification"),
    ("AWS::DynamoDB::Table", "PointInTimeRecoverySpecification"): (
        "dynamodb", "UpdateContinuousBackups", "PointInTimeRecoverySpecification"),
    ("AWS::IAM::Role", "Policies"): ("iam", "PutRolePolicy", "PolicyDocument"),
}
_SESSION = botocore.session.get_session()


def _input(service: str, operation: str) -> StructureShape:
    shape = _SESSION.get_service_model(service).operation_model(operation).input_shape
    assert isinstance(shape, StructureShape)
    return shape


def resource_problems(resource: dict[str, Any]) -> list[str]:
    """Every mismatch between a resource's properties and the API calls they map to."""
    kind, properties = resource["Type"], resource.get("Properties", {})
    service, operation, renames, elsewhere = CREATE_CALLS[kind]
    create = {renames.get(k, k): v for k, v in properties.items() if k not in elsewhere}
    if kind in GENERATED:
        create.setdefault(GENERATED[kind], "generated-by-cloudformation")
    problems = _problems(create, _input(service, operation), f"{operation}", top=True)
    for name in elsewhere & properties.keys():
        if (kind, name) not in OTHER_CALLS:
            continue
        service, operation, member = OTHER_CALLS[(kind, name)]
        shape = _input(service, operation).members[member]
        values = [p["PolicyDocument"] for p in properties[name]] if name == "Policies" else [properties[name]]
        problems += [p for v in values for p in _problems(v, shape, f"{operation}.{member}")]
    return problems


def _intrinsic(value: Any) -> bool:
    if not isinstance(value, dict) or len(value) != 1:
        return False
    key = next(iter(value))
    return key == "Ref" or key.startswith("Fn::")


def _problems(value: Any, shape: Shape, path: str, *, top: bool = False) -> list[str]:
    if _intrinsic(value):
        return []
    kind = shape.type_name
    if kind == "structure":
        return _structure(value, shape, path, top=top)
    if kind == "list":
        assert isinstance(shape, ListShape)
        if not isinstance(value, list):
            return [f"{path}: expected a list"]
        out = _bounds(len(value), shape, path)
        return out + [p for i, v in enumerate(value) for p in _problems(v, shape.member, f"{path}[{i}]")]
    if kind == "map":
        assert isinstance(shape, MapShape)
        if not isinstance(value, dict):
            return [f"{path}: expected a map"]
        return [p for k, v in value.items() for p in _problems(v, shape.value, f"{path}.{k}")]
    if kind == "string":
        if isinstance(value, dict) and path.endswith("Document"):
            return []  # a policy document: CloudFormation takes the object the API takes as JSON text
        if not isinstance(value, str):
            return [f"{path}: expected a string, got {value!r}"]
        enum = shape.metadata.get("enum")
        if enum and value not in enum:
            return [f"{path}: {value!r} is not one of {enum}"]
        return _bounds(len(value), shape, path)
    if kind in ("integer", "long"):
        number = int(value) if isinstance(value, str) and value.isdigit() else value
        if not isinstance(number, int) or isinstance(number, bool):
            return [f"{path}: expected an integer, got {value!r}"]
        return _bounds(number, shape, path)
    if kind == "boolean" and not isinstance(value, bool):
        return [f"{path}: expected a boolean, got {value!r}"]
    return []


def _structure(value: Any, shape: Shape, path: str, *, top: bool) -> list[str]:
    assert isinstance(shape, StructureShape)
    if not isinstance(value, dict):
        return [f"{path}: expected an object"]
    members = {name.lower(): name for name in shape.members}
    out = []
    for key, item in value.items():
        name = members.get(key.lower())
        if name is None:
            out.append(f"{path}: unknown member {key}")
        else:
            out += _problems(item, shape.members[name], f"{path}.{name}")
    given = {key.lower() for key in value}
    out += [f"{path}: missing required {name}" for name in shape.required_members if name.lower() not in given]
    return out


def _bounds(size: int, shape: Shape, path: str) -> list[str]:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if (low is not None and size < low) or (high is not None and size > high):
        return [f"{path}: {size} outside [{low}, {high}]"]
    return []
