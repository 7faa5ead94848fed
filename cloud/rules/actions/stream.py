"""``stream``: append the rule output to a stream — embedded log, NATS JetStream or Amazon Kinesis."""

from __future__ import annotations

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
from cloud.stream.log import StreamLog
from cloud.stream.nats import NatsStream

NAME = r"^[A-Za-z0-9_.-]{1,128}$"
"""Kinesis stream names: 1-128 of letters, digits, ``_ . -``."""


class EmbeddedStreamBackend(CloudModel):
    type: Literal["embedded"] = "embedded"
    shards: int = Field(default=4, ge=1, le=1024)
    retention: Duration = 86_400.0
    """How long records are kept (Kinesis' default is 24 hours)."""
    segment_bytes: int = Field(default=64 * 1024**2, gt=0)


class NatsStreamBackend(CloudModel):
    """NATS JetStream: subject ``<subjectPrefix>.<streamName>.<partition key>``; the message key
    goes in ``Nats-Msg-Id`` so JetStream drops redeliveries within its duplicate window."""

    type: Literal["nats"]
    servers: list[str] = Field(default_factory=lambda: ["nats://127.0.0.1:4222"], min_length=1)
    subject_prefix: str = Field(default="edgeferry", pattern=r"^[A-Za-z0-9_-]+$")
    duplicate_window: Duration = 120.0


class KinesisStreamBackend(AwsClientConfig):
    """Amazon Kinesis Data Streams. Kinesis has no idempotent put: a redelivered message is
    appended again, and consumers drop it by its key (``device/epoch/seq``)."""

    type: Literal["kinesis"]


StreamBackend = Annotated[EmbeddedStreamBackend | NatsStreamBackend | KinesisStreamBackend,
                          Field(discriminator="type")]


class StreamAction(CloudModel):
    """Like AWS's ``kinesis`` action: stream name and partition key (a substitution template)."""

    stream_name: str = Field(pattern=NAME)
    partition_key: str = "${topic(4)}"
    """Default: the device id level of ``dt/<site>/<assetType>/<deviceId>/...``."""
    backend: StreamBackend = EmbeddedStreamBackend()

    def build(self, context: BuildContext) -> StreamPut:
        backend = self.backend
        if isinstance(backend, EmbeddedStreamBackend):
            root = context.data_dir / "stream" / self.stream_name
            log = context.shared(_log_key(context, self.stream_name), lambda: Embedded(
                StreamLog(root, shards=backend.shards, retention=backend.retention,
                          segment_bytes=backend.segment_bytes), StreamLog.expire))
            return StreamPut(self, log.store)
        if isinstance(backend, NatsStreamBackend):
            nats = context.shared(f"nats:{','.join(backend.servers)}:{self.stream_name}", lambda: NatsStream(
                backend.servers, self.stream_name, subject_prefix=backend.subject_prefix,
                duplicate_window=backend.duplicate_window))
            return StreamPut(self, nats)
        return StreamPut(self, aws_client(context, "kinesis", backend))


def _log_key(context: BuildContext, stream_name: str) -> str:
    return f"stream:{context.data_dir / 'stream' / stream_name}"


def embedded_log(context: BuildContext, stream_name: str) -> StreamLog | None:
    """The embedded stream a stream action of this context writes, if any."""
    resource = context.resources.get(_log_key(context, stream_name))
    return resource.store if isinstance(resource, Embedded) and isinstance(resource.store, StreamLog) else None


class StreamPut:
    failed_action = "KinesisAction"

    def __init__(self, config: StreamAction, target: StreamLog | NatsStream | AwsClient) -> None:
        self.config = config
        self.resource = config.stream_name
        self._target = target

    async def __call__(self, message: ActionMessage) -> None:
        partition_key = message.substitute(self.config.partition_key) or message.record.key.device
        key = str(message.record.key)
        if isinstance(self._target, AwsClient):
            await self._target.call("put_record", StreamName=self.config.stream_name, Data=message.data,
                                    PartitionKey=partition_key[:256])
        else:
            await self._target.put(partition_key, message.data, key=key)
