"""``republish``: the rule output to another MQTT topic, through the runner's connection, with the
MQTT 5 properties AWS's action calls ``headers`` (republish-rule-action.html)."""

from __future__ import annotations

import base64
import binascii
from typing import Literal

from pydantic import Field

from cloud.rules.actions.base import ActionMessage, BuildContext, CloudModel, Publish, PublishProperties


class UserProperty(CloudModel):
    key: str = Field(min_length=1)
    value: str


class Headers(CloudModel):
    """MQTT 5 properties of the republished message; every string may be a substitution template.
    ``correlationData`` is base64, as AWS takes it; ``messageExpiry`` is seconds."""

    payload_format_indicator: Literal["UNSPECIFIED_BYTES", "UTF8_DATA"] | None = None
    content_type: str | None = None
    response_topic: str | None = None
    correlation_data: str | None = None
    message_expiry: str | None = None
    user_properties: list[UserProperty] = Field(default_factory=list, max_length=100)


class RepublishAction(CloudModel):
    """Like AWS's ``republish`` action: a topic (a substitution template), a QoS (0 or 1) and headers."""

    topic: str
    qos: Literal[0, 1] = 0
    headers: Headers | None = None

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
        headers = self.config.headers
        if headers is None:
            await self._publish(topic, message.data, self.config.qos)
        else:
            await self._publish(topic, message.data, self.config.qos, properties(headers, message))


def properties(headers: Headers, message: ActionMessage) -> PublishProperties:
    """The headers with their templates substituted; a value MQTT 5 cannot carry is an error."""
    def text(template: str | None) -> str | None:
        return None if template is None else message.substitute(template)

    correlation = text(headers.correlation_data)
    try:
        data = None if correlation is None else base64.b64decode(correlation, validate=True)
    except binascii.Error:
        raise ValueError(f"correlationData {correlation!r} is not base64") from None
    expiry = text(headers.message_expiry)
    if expiry is not None and not (expiry.isdigit() and int(expiry) < 2**32):
        raise ValueError(f"messageExpiry {expiry!r} is not a number of seconds")
    return PublishProperties(
        payload_format_indicator=headers.payload_format_indicator, content_type=text(headers.content_type),
        response_topic=text(headers.response_topic), correlation_data=data,
        message_expiry=None if expiry is None else int(expiry),
        user_properties=tuple((p.key, message.substitute(p.value)) for p in headers.user_properties))
