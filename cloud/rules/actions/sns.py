"""``sns``: the rule output as a notification — a local JSON-lines log per topic, or Amazon SNS."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from cloud.rules.actions.aws import AwsClient, aws_client
from cloud.rules.actions.base import ActionMessage, AwsClientConfig, BuildContext, CloudModel, Embedded
from cloud.stores.files import JsonLinesLog


class LocalTopicBackend(CloudModel):
    type: Literal["local"] = "local"


class SnsBackend(AwsClientConfig):
    type: Literal["sns"]


TopicBackend = Annotated[LocalTopicBackend | SnsBackend, Field(discriminator="type")]


class SnsAction(CloudModel):
    """Like AWS's ``sns`` action (sns-rule-action.html): the topic ARN and the message format
    (``RAW``, the default, or ``JSON``, which SNS fans out per protocol)."""

    target_arn: str = Field(pattern=r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$")
    message_format: Literal["RAW", "JSON"] = "RAW"
    backend: TopicBackend = LocalTopicBackend()

    @property
    def topic_name(self) -> str:
        return self.target_arn.rsplit(":", 1)[-1]

    def build(self, context: BuildContext) -> Publish:
        if isinstance(self.backend, SnsBackend):
            return Publish(self, aws_client(context, "sns", self.backend))
        path = context.data_dir / "sns" / f"{self.topic_name}.jsonl"
        log = context.shared(f"sns:{path}", lambda: Embedded(JsonLinesLog(path)))
        return Publish(self, log.store)


class Publish:
    failed_action = "SnsAction"

    def __init__(self, config: SnsAction, target: JsonLinesLog | AwsClient) -> None:
        self.config = config
        self.resource = config.target_arn
        self._target = target

    async def __call__(self, message: ActionMessage) -> None:
        text = message.data.decode("utf-8", errors="replace")
        if isinstance(self._target, JsonLinesLog):
            await self._target.append({"topic": self.config.target_arn, "format": self.config.message_format,
                                       "message": text, "timestamp": message.timestamp})
            return
        extra = {"MessageStructure": "json"} if self.config.message_format == "JSON" else {}
        await self._target.call("publish", TargetArn=self.config.target_arn, Message=text, **extra)
