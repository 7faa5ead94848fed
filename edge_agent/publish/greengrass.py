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
import logging
from typing import Any, Protocol, Self

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


def connect_ipc() -> Any:
    """A connected Greengrass IPC client (the nucleus sets the socket path and SVCUID)."""
    from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

    return GreengrassCoreIPCClientV2()


class GreengrassIpcSink:
    """QoS 1 ``PublishToIoTCore`` to the basic-ingest topics; see the module docstring for the
    delivery guarantee."""

    def __init__(self, config: GreengrassPublishConfig, client: IotCorePublisher | None = None) -> None:
        self.config = config
        self._client = client
        self.counters = Counters()
        self.counters.set("state", "idle")

    async def __aenter__(self) -> Self:
        if self._client is None:
            self._client = await asyncio.to_thread(connect_ipc)
        self.counters.set("state", "connected")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.counters.set("state", "closed")

    async def send(self, batch: Batch) -> None:
        from awsiot.greengrasscoreipc.model import QOS, UnauthorizedError

        assert self._client is not None, "use the sink as an async context manager"
        payload = batch.encode()
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise Rejected(f"batch seq {batch.seq} is {len(payload)} bytes, over IoT Core's 128 KB")
        topic = TopicScheme(batch.site, batch.asset_type, batch.device, self.config.rule,
                            self.config.alarm_rule).for_batch(batch)
        self.counters.inc("published")
        future = self._client.publish_to_iot_core_async(topic_name=topic, qos=QOS.AT_LEAST_ONCE,
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
