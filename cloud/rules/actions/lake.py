"""``lake``: rows of the rule output into the Parquet lake, or into Amazon Data Firehose."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, field_validator

from cloud.rules.actions.aws import AwsClient, aws_client
from cloud.rules.actions.base import (
    ActionMessage,
    AwsClientConfig,
    BuildContext,
    CloudModel,
    Duration,
    Embedded,
    json_line,
)
from cloud.stores.partitions import DERIVED_KEYS, partition_keys_valid
from cloud.stores.records import Row

if TYPE_CHECKING:
    from cloud.stores.lake import LakeStore

FIREHOSE_BATCH = 500
"""PutRecordBatch takes at most 500 records."""


class EmbeddedLakeBackend(CloudModel):
    type: Literal["embedded"] = "embedded"
    row_group_rows: int = Field(default=10_000, gt=0)
    file_rows: int = Field(default=100_000, gt=0)
    max_file_age: Duration = 300.0
    """An open file is closed (and becomes visible) at the latest this long after its first row."""
    key_retention: Duration = 30 * 86_400.0
    """How long message keys are remembered to drop redeliveries."""
    retention: Duration | None = None
    """Audit retention: a closed file expires (through the archive's chain) this long after its
    newest row; None keeps files forever."""


class FirehoseLakeBackend(AwsClientConfig):
    """Amazon Data Firehose: one JSON line per row (Firehose converts to Parquet and partitions
    in S3). Firehose does not deduplicate: a redelivered batch yields its rows again, each with
    ``epoch`` and ``seq`` to drop them by."""

    type: Literal["firehose"]
    delivery_stream_name: str


LakeBackend = Annotated[EmbeddedLakeBackend | FirehoseLakeBackend, Field(discriminator="type")]


class LakeAction(CloudModel):
    table: str = Field(default="telemetry", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    partition_by: list[str] = Field(default_factory=lambda: ["site", "date"])
    """Hive partition keys: row fields (``site``, ``device``, ``point``...) or ``date`` / ``hour``."""
    backend: LakeBackend = EmbeddedLakeBackend()

    @field_validator("partition_by")
    @classmethod
    def _known_keys(cls, keys: list[str]) -> list[str]:
        unknown = partition_keys_valid(keys)
        if unknown:
            raise ValueError(f"unknown partition keys {unknown}: use row fields or {list(DERIVED_KEYS)}")
        return keys

    def build(self, context: BuildContext) -> LakeWrite:
        backend = self.backend
        if isinstance(backend, FirehoseLakeBackend):
            return LakeWrite(backend.delivery_stream_name, aws_client(context, "firehose", backend))
        from cloud.stores.lake import LakeStore

        root = context.data_dir / "lake" / self.table
        lake = context.shared(f"lake:{root}", lambda: Embedded(
            LakeStore(root, partition_by=self.partition_by, row_group_rows=backend.row_group_rows,
                      file_rows=backend.file_rows, max_file_age=backend.max_file_age,
                      key_retention=backend.key_retention, retention=backend.retention),
            LakeStore.flush))
        return LakeWrite(self.table, lake.store)


class LakeWrite:
    failed_action = "FirehoseAction"

    def __init__(self, resource: str, target: LakeStore | AwsClient) -> None:
        self.resource = resource
        self._target = target

    async def __call__(self, message: ActionMessage) -> None:
        if not isinstance(self._target, AwsClient):
            await self._target.write(message.record)
            return
        rows = message.record.rows
        for start in range(0, len(rows), FIREHOSE_BATCH):
            records = [{"Data": _json_line(row)} for row in rows[start:start + FIREHOSE_BATCH]]
            response = await self._target.call("put_record_batch", DeliveryStreamName=self.resource,
                                               Records=records)
            if response.get("FailedPutCount"):
                raise RuntimeError(f"Firehose refused {response['FailedPutCount']} of {len(records)} rows")


def _json_line(row: Row) -> bytes:
    return json_line(asdict(row)) + b"\n"
