"""``current_state``: the latest value per device and point — SQLite (embedded) or DynamoDB."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field

from cloud.rules.actions.aws import AwsClient, aws_client
from cloud.rules.actions.base import (
    ActionMessage,
    AwsClientConfig,
    BuildContext,
    CloudModel,
    Duration,
    Embedded,
)
from cloud.stores.current_state import CurrentStateStore
from cloud.stores.records import Record
from cloud.stores.sql import SqlDatabase


class SqliteStateBackend(CloudModel):
    type: Literal["sqlite"] = "sqlite"


class DynamoDbStateBackend(AwsClientConfig):
    """A DynamoDB table. As a rule action it takes the rule output as the item. As the rows
    processor's sink: hash key ``device`` and range key ``point`` (both strings); items carry
    ``t``, ``value`` (JSON) and ``expires`` (epoch seconds, for DynamoDB's TTL); a put is
    conditional on ``t``, so an older or repeated update changes nothing."""

    type: Literal["dynamodb"]
    table_name: str


StateBackend = Annotated[SqliteStateBackend | DynamoDbStateBackend, Field(discriminator="type")]


class CurrentStateAction(CloudModel):
    table: str = Field(default="current_state", pattern=r"^[A-Za-z0-9_.-]{3,255}$")
    ttl: Duration | None = None
    """Entries disappear this long after their reading time (None: never)."""
    backend: StateBackend = SqliteStateBackend()

    def build(self, context: BuildContext) -> CurrentStateWrite:
        backend = self.backend
        if isinstance(backend, DynamoDbStateBackend):
            return CurrentStateWrite(backend.table_name, aws_client(context, "dynamodb", backend), self.ttl)
        path = context.data_dir / "current_state" / f"{self.table}.db"
        store = context.shared(f"state:{path}", lambda: Embedded(
            CurrentStateStore(SqlDatabase(path=path), ttl=self.ttl)))
        return CurrentStateWrite(self.table, store.store, self.ttl)


class CurrentStateWrite:
    """Per message, as AWS's ``dynamoDBv2`` action: the rule output is one item, each top-level
    attribute a column (dynamodb-v2-rule-action.html); the table's keys must be among them. The
    embedded store keeps the same attributes per device. A batch's ``last`` values become one
    entry per point only through the rows processor, which calls :meth:`write`."""

    failed_action = "DynamoDBv2Action"

    def __init__(self, resource: str, target: CurrentStateStore | AwsClient, ttl: float | None) -> None:
        self.resource = resource
        self._target = target
        self._ttl = ttl

    async def __call__(self, message: ActionMessage) -> None:
        if isinstance(self._target, CurrentStateStore):
            await self._target.write(message.item)
            return
        if not isinstance(message.output, dict):
            raise ValueError("a dynamoDBv2 item needs an object as the rule output")
        from boto3.dynamodb.types import TypeSerializer

        item = json.loads(json.dumps(message.output), parse_float=Decimal)
        await self._target.call("put_item", TableName=self.resource,
                                Item={k: TypeSerializer().serialize(v) for k, v in item.items()})

    async def write(self, record: Record) -> None:
        """Upsert the latest value of every point of ``record``, an older update changing nothing."""
        if isinstance(self._target, CurrentStateStore):
            await self._target.write(record)
            return
        for point, (t, value) in record.latest.items():
            item = {"device": {"S": record.device}, "point": {"S": point}, "t": {"N": str(t)},
                    "value": {"S": json.dumps(value)}}
            if self._ttl is not None:
                item["expires"] = {"N": str((t + int(self._ttl * 1000)) // 1000)}
            try:
                await self._target.call("put_item", TableName=self.resource, Item=item,
                                        ConditionExpression="attribute_not_exists(t) OR t <= :t",
                                        ExpressionAttributeValues={":t": {"N": str(t)}})
            except Exception as exc:
                if type(exc).__name__ != "ConditionalCheckFailedException":
                    raise
