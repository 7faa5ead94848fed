"""``dlq``: a durable queue — the embedded dead-letter queue or Amazon SQS. Usually the rule's
``errorAction``, where it receives AWS's error-action message."""

from __future__ import annotations

import base64
from typing import Annotated, Literal

from pydantic import Field

from cloud.rules.actions.aws import AwsClient, aws_client
from cloud.rules.actions.base import ActionMessage, AwsClientConfig, BuildContext, CloudModel, Embedded
from cloud.stores.dlq import DeadLetterQueue
from cloud.stores.sql import SqlDatabase


class EmbeddedQueueBackend(CloudModel):
    type: Literal["embedded"] = "embedded"


class SqsQueueBackend(AwsClientConfig):
    type: Literal["sqs"]
    queue_url: str
    use_base64: bool = False


QueueBackend = Annotated[EmbeddedQueueBackend | SqsQueueBackend, Field(discriminator="type")]


class DlqAction(CloudModel):
    queue: str = Field(default="dlq", pattern=r"^[A-Za-z0-9_-]{1,80}$")
    """The queue name (SQS allows 1-80 of letters, digits, ``-`` and ``_``)."""
    backend: QueueBackend = EmbeddedQueueBackend()

    def build(self, context: BuildContext) -> Enqueue:
        backend = self.backend
        if isinstance(backend, SqsQueueBackend):
            return Enqueue(self.queue, aws_client(context, "sqs", backend), backend)
        path = context.data_dir / "dlq" / f"{self.queue}.db"
        queue = context.shared(f"dlq:{path}", lambda: Embedded(DeadLetterQueue(SqlDatabase(path=path))))
        return Enqueue(self.queue, queue.store)


class Enqueue:
    failed_action = "SqsAction"

    def __init__(self, resource: str, target: DeadLetterQueue | AwsClient,
                 sqs: SqsQueueBackend | None = None) -> None:
        self.resource = resource
        self._target = target
        self._sqs = sqs

    async def __call__(self, message: ActionMessage) -> None:
        if isinstance(self._target, DeadLetterQueue):
            await self._target.put(message.output)
            return
        assert self._sqs is not None
        body = base64.b64encode(message.data).decode() if self._sqs.use_base64 else message.data.decode()
        await self._target.call("send_message", QueueUrl=self._sqs.queue_url, MessageBody=body)
