"""An MQTT5 client of the rig's broker, for the provisioning service's own needs: checking that a
reloaded authorisation is in force (kept open across checks).

awscrt reconnects by itself after a connection loss; an operation submitted while the client is
offline fails at once (``FAIL_ALL_ON_DISCONNECT``), so nothing stale is sent after a reconnect.
:meth:`BrokerClient.publish_allowed` therefore waits for the connection to come back and tries
again, up to its deadline: a dropped connection delays a check, it does not fail it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Self

from awscrt import mqtt5
from awscrt.exceptions import AwsCrtError
from awsiot import mqtt5_client_builder

from provisioning.errors import ProvisioningUnavailable

logger = logging.getLogger(__name__)

TIMEOUT = 15.0
RETRY_PAUSE = 0.05
"""After an operation lost to a disconnection: let the client notice before trying again."""


class BrokerClient:
    """An awscrt MQTT5 client connected with one identity; async context manager."""

    def __init__(self, host: str, port: int, cert: Path, key: Path, ca: Path, client_id: str) -> None:
        self._loop = asyncio.get_running_loop()
        self._online = asyncio.Event()
        self._stopped = asyncio.Event()
        self.client_id = client_id
        self._client = mqtt5_client_builder.mtls_from_path(
            endpoint=host, port=port, cert_filepath=str(cert), pri_key_filepath=str(key),
            ca_filepath=str(ca), client_id=client_id, enable_metrics_collection=False,
            session_behavior=mqtt5.ClientSessionBehaviorType.CLEAN,
            offline_queue_behavior=mqtt5.ClientOperationQueueBehaviorType.FAIL_ALL_ON_DISCONNECT,
            extended_validation_and_flow_control_options=mqtt5.ExtendedValidationAndFlowControlOptions.NONE,
            retry_jitter_mode=mqtt5.ExponentialBackoffJitterMode.FULL,
            min_reconnect_delay_ms=100, max_reconnect_delay_ms=1000,
            on_lifecycle_connection_success=lambda _: self._loop.call_soon_threadsafe(self._online.set),
            on_lifecycle_disconnection=lambda data: self._loop.call_soon_threadsafe(
                self._on_offline, str(data.exception)),
            on_lifecycle_stopped=lambda _: self._loop.call_soon_threadsafe(self._stopped.set),
        )

    async def __aenter__(self) -> Self:
        self._client.start()
        try:
            await asyncio.wait_for(self._online.wait(), TIMEOUT)
        except TimeoutError:
            await self.__aexit__()
            raise ProvisioningUnavailable(f"broker: {self.client_id} could not connect") from None
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._client.stop()
        await asyncio.wait_for(self._stopped.wait(), TIMEOUT)

    def _on_offline(self, error: str) -> None:
        self._online.clear()
        logger.info("broker_client_disconnected", extra={"client_id": self.client_id, "error": error})

    async def publish_allowed(self, topic: str, *, deadline: float) -> bool:
        """Publish an empty QoS 1 message; whether the broker accepted it (a PUBACK reason code
        below 0x80: success, or 0x10 "no matching subscribers").

        A publish lost to a connection loss is sent again once the client has reconnected; raises
        :class:`ProvisioningUnavailable` when no PUBACK came by ``deadline`` (``time.monotonic()``)."""
        packet = mqtt5.PublishPacket(topic=topic, payload=b"", qos=mqtt5.QoS.AT_LEAST_ONCE)
        while True:
            try:
                await asyncio.wait_for(self._online.wait(), _left(deadline))
                result = await asyncio.wait_for(asyncio.wrap_future(self._client.publish(packet)),
                                                _left(deadline))
            except TimeoutError:
                raise ProvisioningUnavailable(f"broker: no PUBACK for {self.client_id} in time") from None
            except AwsCrtError as exc:  # lost to a disconnection: wait for the reconnect
                logger.info("broker_publish_lost", extra={"client_id": self.client_id, "error": exc.name})
                await asyncio.sleep(RETRY_PAUSE)
                continue
            return int(result.puback.reason_code) < 0x80


def _left(deadline: float) -> float:
    return max(deadline - time.monotonic(), 0.0)
