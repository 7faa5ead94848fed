"""``lake``: rows of the rule output into the Parquet lake, or into Amazon Data Firehose."""

from __future__ import annotations

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
)
from cloud.stores.partitions import DERIVED_KEYS, partition_keys_valid

if TYPE_CHECKING:
    from cloud.stores.lake import LakeStore

FIREHOSE_SEPARATOR = b"\n"
"""What the exported ``firehose`` action appends to each record (its ``separator``)."""


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
    """Amazon Data Firehose: the rule output as one record, as AWS's ``firehose`` action puts it;
    the delivery stream's transformation (``cloud.rows.aws_lambda.firehose_handler``) explodes it
    into rows and Firehose converts them to Parquet, partitioned in S3. Firehose does not
    deduplicate: a redelivered batch yields its rows again, each with ``epoch`` and ``seq`` to
    drop them by."""

    type: Literal["firehose"]
    delivery_stream_name: str


LakeBackend = Annotated[EmbeddedLakeBackend | FirehoseLakeBackend, Field(discriminator="type")]


class LakeAction(CloudModel):
    table: str = Field(default="telemetry", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    partition_by: list[str] = Field(default_factory=lambda: ["site", "date"])
    """Hive partition keys: row fields (``site``, ``device``, ``point``...) or ``date`` / ``hour``."""
    transform: Literal["rows", "none"] = "rows"
    """``rows``: each batch becomes one row per reading and window, the transformation the
    delivery stream runs on AWS; ``none``: one row per top-level scalar attribute of the output."""
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
            return LakeWrite(backend.delivery_stream_name, aws_client(context, "firehose", backend), self.transform)
        from cloud.stores.lake import LakeStore

        root = context.data_dir / "lake" / self.table
        lake = context.shared(f"lake:{root}", lambda: Embedded(
            LakeStore(root, partition_by=self.partition_by, row_group_rows=backend.row_group_rows,
                      file_rows=backend.file_rows, max_file_age=backend.max_file_age,
                      key_retention=backend.key_retention, retention=backend.retention),
            LakeStore.flush))
        return LakeWrite(self.table, lake.store, self.transform)


class LakeWrite:
    """Per message, as AWS's ``firehose`` action: the output is one record of the delivery stream,
    whose transformation makes the lake's rows."""

    failed_action = "FirehoseAction"

    def __init__(self, resource: str, target: LakeStore | AwsClient, transform: str) -> None:
        self.resource = resource
        self._target = target
        self._transform = transform

    async def __call__(self, message: ActionMessage) -> None:
        if isinstance(self._target, AwsClient):
            await self._target.call("put_record", DeliveryStreamName=self.resource,
                                    Record={"Data": message.data + FIREHOSE_SEPARATOR})
            return
        await self._target.write(message.record if self._transform == "rows" else message.item)
