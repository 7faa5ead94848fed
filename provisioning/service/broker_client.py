"""A short-lived MQTT5 client of the rig's broker, for the provisioning service's own needs:
checking that a reloaded ACL is in force, and taking over a revoked device's client id."""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from pathlib import Path
from typing import Self, TypeVar

from awscrt import mqtt5
from awsiot import mqtt5_client_builder

from provisioning.errors import ProvisioningUnavailable

T = TypeVar("T")
TIMEOUT = 15.0


class BrokerClient:
    """An awscrt MQTT5 client connected with one identity; async context manager."""

    def __init__(self, host: str, port: int, cert: Path, key: Path, ca: Path, client_id: str) -> None:
        self._loop = asyncio.get_running_loop()
        self._connected = asyncio.Event()
        self._stopped = asyncio.Event()
        self.client_id = client_id
        self._client = mqtt5_client_builder.mtls_from_path(
            endpoint=host, port=port, cert_filepath=str(cert), pri_key_filepath=str(key),
            ca_filepath=str(ca), client_id=client_id, enable_metrics_collection=False,
            session_behavior=mqtt5.ClientSessionBehaviorType.CLEAN,
            offline_queue_behavior=mqtt5.ClientOperationQueueBehaviorType.FAIL_ALL_ON_DISCONNECT,
            extended_validation_and_flow_control_options=mqtt5.ExtendedValidationAndFlowControlOptions.NONE,
            min_reconnect_delay_ms=100, max_reconnect_delay_ms=1000,
            on_lifecycle_connection_success=lambda _: self._loop.call_soon_threadsafe(self._connected.set),
            on_lifecycle_stopped=lambda _: self._loop.call_soon_threadsafe(self._stopped.set),
        )

    async def __aenter__(self) -> Self:
        self._client.start()
        try:
            await asyncio.wait_for(self._connected.wait(), TIMEOUT)
        except TimeoutError:
            await self.__aexit__()
            raise ProvisioningUnavailable(f"broker: {self.client_id} could not connect") from None
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._client.stop()
        await asyncio.wait_for(self._stopped.wait(), TIMEOUT)

    async def publish_allowed(self, topic: str) -> bool:
        """Publish an empty QoS 1 message; whether the broker accepted it (a PUBACK reason code
        below 0x80: success, or 0x10 "no matching subscribers")."""
        packet = mqtt5.PublishPacket(topic=topic, payload=b"", qos=mqtt5.QoS.AT_LEAST_ONCE)
        result = await _wait(self._client.publish(packet))
        return int(result.puback.reason_code) < 0x80


async def _wait(future: Future[T]) -> T:
    return await asyncio.wait_for(asyncio.wrap_future(future), TIMEOUT)
