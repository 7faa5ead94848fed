"""Publishing through the Greengrass nucleus's own connection (IPC ``PublishToIoTCore``).

Weaker guarantee than the direct MQTT sink: the IPC call succeeds once the nucleus has accepted
the message, not when IoT Core sent PUBACK. The nucleus spools such messages in memory (2.5 MB by
default) unless its disk spooler is deployed, so a nucleus restart during an outage can lose what
it held. Choose this sink when the core device's identity must be used; choose ``mqtt`` when
every batch must stay in the edgeferry spool until the cloud acknowledged it.
(Greengrass v2 developer guide: ipc-iot-core-mqtt, greengrass-nucleus-component "spooler".)
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
from typing import Any, Protocol, Self

from edge_agent.downlink import Message, MessageReceiver
from edge_agent.envelope import MAX_PAYLOAD_BYTES, Batch, TopicScheme
from edge_agent.errors import Rejected, Retryable
from edge_agent.metrics import Counters
from edge_agent.publish.config import GreengrassPublishConfig

log = logging.getLogger(__name__)


class IotCorePublisher(Protocol):
    """The part of ``awsiot.greengrasscoreipc.clientv2.GreengrassCoreIPCClientV2`` this sink uses."""

    def publish_to_iot_core_async(self, *, topic_name: str | None = None, qos: str | None = None,
                                  payload: bytes | str | None = None,
                                  **kwargs: Any) -> concurrent.futures.Future[Any]: ...

    def subscribe_to_iot_core_async(self, *, topic_name: str | None = None, qos: str | None = None,
                                    **kwargs: Any) -> tuple[concurrent.futures.Future[Any], Any]: ...


def connect_ipc() -> Any:
    """A connected Greengrass IPC client (the nucleus sets the socket path and SVCUID)."""
    from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

    return GreengrassCoreIPCClientV2()


class GreengrassIpcSink:
    """QoS 1 ``PublishToIoTCore`` to the basic-ingest topics; see the module docstring for the
    delivery guarantee. Also the downlink's :class:`~edge_agent.downlink.MessageChannel`:
    ``SubscribeToIoTCore`` streams (the nucleus keeps them across its own reconnects)."""

    def __init__(self, config: GreengrassPublishConfig, client: IotCorePublisher | None = None) -> None:
        self.config = config
        self._client = client
        self.counters = Counters()
        self.counters.set("state", "idle")
        self._receiver: MessageReceiver | None = None
        self._streams: dict[str, Any] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __aenter__(self) -> Self:
        if self._client is None:
            self._client = await asyncio.to_thread(connect_ipc)
        self._loop = asyncio.get_running_loop()
        self.counters.set("state", "connected")
        if self._receiver is not None:
            self._receiver.on_channel_up()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for topic_filter in list(self._streams):
            self._close_stream(topic_filter)
        self.counters.set("state", "closed")

    # MessageChannel -------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self.counters.snapshot().get("state") == "connected"

    def attach(self, receiver: MessageReceiver | None) -> None:
        self._receiver = receiver

    async def subscribe(self, topic_filter: str) -> None:
        from awsiot.greengrasscoreipc.model import QOS, UnauthorizedError

        client = self._require_client()
        if topic_filter in self._streams:
            return  # the nucleus keeps it; closing and reopening would unsubscribe at the broker
        future, operation = client.subscribe_to_iot_core_async(
            topic_name=topic_filter, qos=QOS.AT_LEAST_ONCE, on_stream_event=self._on_stream_event)
        self._streams[topic_filter] = operation
        try:
            await asyncio.wait_for(asyncio.wrap_future(future), self.config.timeout)
        except UnauthorizedError as exc:
            self._streams.pop(topic_filter, None)
            raise Rejected(f"not authorised to subscribe to {topic_filter}: {exc}") from None
        except (TimeoutError, Exception) as exc:
            self._close_stream(topic_filter)
            raise Retryable(f"SubscribeToIoTCore failed: {exc!r}") from None

    async def unsubscribe(self, topic_filter: str) -> None:
        self._close_stream(topic_filter)

    async def publish_message(self, topic: str, payload: bytes) -> None:
        await self._publish(topic, payload)

    def _on_stream_event(self, event: Any) -> None:
        """Called on the IPC client's thread for each message."""
        message = getattr(event, "message", None)
        if message is None or self._loop is None or self._receiver is None:
            return
        delivered = Message(str(message.topic_name), bytes(message.payload or b""))
        with contextlib.suppress(RuntimeError):  # the loop closed while a message came in
            self._loop.call_soon_threadsafe(self._deliver, delivered)

    def _deliver(self, message: Message) -> None:
        if self._receiver is not None:
            self._receiver.on_message(message)

    def _close_stream(self, topic_filter: str) -> None:
        operation = self._streams.pop(topic_filter, None)
        if operation is not None:
            with contextlib.suppress(Exception):
                operation.close()

    def _require_client(self) -> IotCorePublisher:
        if self._client is None or not self.connected:
            raise Retryable("not connected to the Greengrass nucleus")
        return self._client

    async def send(self, batch: Batch) -> None:
        topic = TopicScheme(batch.site, batch.asset_type, batch.device, self.config.rule,
                            self.config.alarm_rule).for_batch(batch)
        await self._publish(topic, batch.encode())

    async def _publish(self, topic: str, payload: bytes) -> None:
        from awsiot.greengrasscoreipc.model import QOS, UnauthorizedError

        if len(payload) > MAX_PAYLOAD_BYTES:
            raise Rejected(f"{len(payload)} bytes to {topic}, over IoT Core's 128 KB")
        client = self._require_client()
        self.counters.inc("published")
        future = client.publish_to_iot_core_async(topic_name=topic, qos=QOS.AT_LEAST_ONCE,
                                                  payload=payload)
        try:
            await asyncio.wait_for(asyncio.wrap_future(future), self.config.timeout)
        except UnauthorizedError as exc:
            self.counters.inc("rejected")
            raise Rejected(f"not authorised to publish to {topic}: {exc}") from None
        except (TimeoutError, Exception) as exc:
            self.counters.inc("retried")
            raise Retryable(f"PublishToIoTCore failed: {exc!r}") from None
        self.counters.inc("acked")
