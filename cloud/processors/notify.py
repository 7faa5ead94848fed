"""Carries out the outbox's notifications: MQTT publish, SNS, SQS, HTTP webhook, current-state
update, dead-letter queue. Delivery is at-least-once (a notification is marked delivered after
its target took it); every payload carries the notification's stable ``id`` (and SNS/SQS FIFO
targets get it as their deduplication id), so a receiver recognises a second copy.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any

from cloud.processors.actions import Action
from cloud.rules.actions.aws import AwsClient
from cloud.rules.actions.base import AwsClientConfig
from cloud.stores.current_state import CurrentStateStore
from cloud.stores.dlq import DeadLetterQueue
from cloud.stores.records import MessageKey, Record

logger = logging.getLogger(__name__)

Publish = Callable[[str, bytes, int], Awaitable[None]]
"""Publish (topic, payload, qos) on an MQTT connection; returns after the PUBACK."""


class Notifier:
    """The targets notifications go to; a target not configured makes its notifications fail
    (and stay in the outbox) with one clear log line."""

    def __init__(self, *, publish: Publish | None = None, current_state: CurrentStateStore | None = None,
                 dlq: DeadLetterQueue | None = None) -> None:
        self._publish = publish
        self._current_state = current_state
        self._dlq = dlq
        self._aws: dict[tuple[str, str, str | None], AwsClient] = {}

    async def stop(self) -> None:
        for client in self._aws.values():
            await client.stop()
        self._aws.clear()

    async def deliver(self, action: Action, payload: dict[str, Any]) -> None:
        """Send one notification; raises when its target did not take it."""
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True)
        if action.iot_topic_publish is not None:
            if self._publish is None:
                raise RuntimeError("iotTopicPublish needs an MQTT connection (none configured)")
            spec = action.iot_topic_publish
            topic = spec.mqtt_topic.format(key=payload.get("key", ""), alarm=payload.get("alarm", ""))
            await self._publish(topic, body.encode(), spec.qos)
        elif action.sns is not None:
            params: dict[str, Any] = {"TargetArn": action.sns.target_arn, "Message": body}
            if action.sns.target_arn.endswith(".fifo"):
                params |= {"MessageGroupId": str(payload.get("key", "")), "MessageDeduplicationId": _dedup(payload)}
            await (await self._client("sns", action.sns.region, action.sns.endpoint_url)).call("publish", **params)
        elif action.sqs is not None:
            params = {"QueueUrl": action.sqs.queue_url, "MessageBody": body}
            if action.sqs.queue_url.endswith(".fifo"):
                params |= {"MessageGroupId": str(payload.get("key", "")), "MessageDeduplicationId": _dedup(payload)}
            await (await self._client("sqs", action.sqs.region, action.sqs.endpoint_url)).call("send_message", **params)
        elif action.webhook is not None:
            await asyncio.to_thread(_post, action.webhook.url, body.encode(), action.webhook.timeout)
        elif action.current_state is not None:
            if self._current_state is None:
                raise RuntimeError("currentState needs a current-state store (none configured)")
            await self._current_state.write(_state_record(payload))
        elif action.dlq is not None:
            if self._dlq is None:
                raise RuntimeError("dlq needs a dead-letter queue (none configured)")
            await self._dlq.put(payload)
        else:
            raise ValueError(f"{action.kind} is not a notification")

    async def _client(self, service: str, region: str, endpoint: str | None) -> AwsClient:
        slot = (service, region, endpoint)
        if slot not in self._aws:
            client = AwsClient(service, AwsClientConfig(region=region, endpoint_url=endpoint))
            await client.start()
            self._aws[slot] = client
        return self._aws[slot]


def _dedup(payload: dict[str, Any]) -> str:
    return str(payload.get("id", ""))[-128:]


def _post(url: str, body: bytes, timeout: float) -> None:
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        if response.status >= 300:
            raise RuntimeError(f"webhook {url} answered {response.status}")


def _state_record(payload: dict[str, Any]) -> Record:
    """The detector's (or alarm's) state as points of the key in the current-state store:
    ``<model>.state`` and, for an alarm, ``<model>.<alarm>``."""
    key, t = str(payload.get("key", "")), int(payload.get("t", 0))
    latest: dict[str, tuple[int, Any]] = {f"{payload.get('model')}.state": (t, payload.get("state"))}
    if "alarm" in payload:
        latest = {f"{payload.get('model')}.{payload['alarm']}": (t, payload.get("state"))}
    data = json.dumps(payload, sort_keys=True).encode()
    return Record(key=MessageKey(key, "processor", 0), device=key, data=data, rows=(), latest=latest)
