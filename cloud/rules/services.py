"""The AWS-service functions of IoT SQL served by AWS itself through boto3: ``get_dynamodb``,
``aws_lambda``, ``get_thing_shadow``, ``get_secret`` and ``get_registry_data``
(iot-sql-functions.html). Configured by the rules file's ``functions:`` block; the ``roleArn``
argument each takes is not assumed: the calls run with the runner's own AWS credentials.

A function whose call fails is Undefined, as AWS makes it (the evaluator logs the cause).
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Literal

from cloud.rules.actions.base import AwsClientConfig
from cloud.rules.context import Message
from cloud.rules.types import JsonValue

REGISTRY_APIS = ("DescribeThing", "ListThingGroupsForThing")


class ServicesConfig(AwsClientConfig):
    """``functions: {type: aws, region: ..., endpointUrl: ...}``."""

    type: Literal["aws"] = "aws"

    def build(self) -> AwsFunctionResolver:
        return AwsFunctionResolver(self)


class AwsFunctionResolver:
    """A :class:`~cloud.rules.context.FunctionResolver` calling AWS (boto3 clients are thread-safe and
    made once per service)."""

    def __init__(self, config: AwsClientConfig) -> None:
        self._config = config
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                import boto3

                self._clients[service] = boto3.client(
                    service, region_name=self._config.region, endpoint_url=self._config.endpoint_url)
            return self._clients[service]

    def call(self, name: str, args: Sequence[JsonValue], message: Message) -> JsonValue:
        handler = getattr(self, f"_{name}", None)
        if handler is None:
            raise ValueError(f"{name}() is not served by AWS here")
        result: JsonValue = handler(*args)
        return result

    def _get_dynamodb(self, table: str, key: str, value: JsonValue, *rest: JsonValue) -> JsonValue:
        """``get_dynamodb(tableName, partitionKeyName, partitionKeyValue[, sortKeyName, sortKeyValue], roleArn)``."""
        keys = {str(key): _attribute(value)}
        if len(rest) == 3:
            keys[str(rest[0])] = _attribute(rest[1])
        from boto3.dynamodb.types import TypeDeserializer

        item = self._client("dynamodb").get_item(TableName=table, Key=keys).get("Item")
        if item is None:
            raise LookupError(f"no item with {keys} in {table}")
        plain = {k: TypeDeserializer().deserialize(v) for k, v in item.items()}
        return json.loads(json.dumps(plain, default=_number))  # type: ignore[no-any-return]

    def _aws_lambda(self, function_arn: str, payload: JsonValue) -> JsonValue:
        """``aws_lambda(functionArn, inputJson)``: a synchronous invocation; its JSON result."""
        response = self._client("lambda").invoke(FunctionName=function_arn, InvocationType="RequestResponse",
                                                  Payload=json.dumps(payload).encode())
        if response.get("FunctionError"):
            raise RuntimeError(f"{function_arn} failed: {response['FunctionError']}")
        return json.loads(response["Payload"].read())  # type: ignore[no-any-return]

    def _get_thing_shadow(self, thing: str, *rest: JsonValue) -> JsonValue:
        """``get_thing_shadow(thingName[, shadowName], roleArn)``: the shadow document."""
        named = {"shadowName": str(rest[0])} if len(rest) == 2 else {}
        response = self._client("iot-data").get_thing_shadow(thingName=thing, **named)
        return json.loads(response["payload"].read())  # type: ignore[no-any-return]

    def _get_secret(self, secret_id: str, kind: str, *rest: JsonValue) -> JsonValue:
        """``get_secret(secretId, secretType[, key], roleArn)``: ``SecretString`` (or one key of it
        when it is JSON) or ``SecretBinary`` (base64)."""
        if kind not in ("SecretString", "SecretBinary"):
            raise ValueError(f"secretType {kind!r} is neither SecretString nor SecretBinary")
        response = self._client("secretsmanager").get_secret_value(SecretId=secret_id)
        if kind == "SecretBinary":
            return base64.b64encode(response["SecretBinary"]).decode()
        secret: str = response["SecretString"]
        if len(rest) == 2:
            return json.loads(secret)[str(rest[0])]  # type: ignore[no-any-return]
        return secret

    def _get_registry_data(self, api: str, thing: str, role_arn: str) -> JsonValue:
        """``get_registry_data(registryAPI, thingName, roleArn)``: DescribeThing or ListThingGroupsForThing."""
        iot = self._client("iot")
        if api == "DescribeThing":
            response = iot.describe_thing(thingName=thing)
        elif api == "ListThingGroupsForThing":
            response = iot.list_thing_groups_for_thing(thingName=thing)
        else:
            raise ValueError(f"registryAPI {api!r} is not one of {REGISTRY_APIS}")
        response.pop("ResponseMetadata", None)
        return json.loads(json.dumps(response, default=str))  # type: ignore[no-any-return]


def _attribute(value: JsonValue) -> dict[str, str]:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"a key value must be a string or a number, not {value!r}")
    return {"N": str(value)} if isinstance(value, int | float) else {"S": value}


def _number(value: object) -> object:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON")
