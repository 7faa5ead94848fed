"""``republish``: the rule output to another MQTT topic, through the runner's connection."""

from __future__ import annotations

from typing import Literal

from cloud.rules.actions.base import ActionMessage, BuildContext, CloudModel, Publish


class RepublishAction(CloudModel):
    """Like AWS's ``republish`` action: a topic (a substitution template) and a QoS (0 or 1)."""

    topic: str
    qos: Literal[0, 1] = 0

    def build(self, context: BuildContext) -> Republish:
        return Republish(self, context.publish)


class Republish:
    failed_action = "RepublishAction"

    def __init__(self, config: RepublishAction, publish: Publish | None) -> None:
        self.config = config
        self.resource = config.topic
        self._publish = publish

    async def __call__(self, message: ActionMessage) -> None:
        if self._publish is None:
            raise RuntimeError("republish needs an MQTT connection and the runner has none")
        topic = message.substitute(self.config.topic)
        if not topic or "+" in topic or "#" in topic:
            raise ValueError(f"cannot republish to topic {topic!r}")
        await self._publish(topic, message.data, self.config.qos)
