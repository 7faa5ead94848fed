"""What the MQTT sink needs from a client library connection, whichever MQTT version it speaks.

A transport connects with mutual TLS, reports its lifecycle and the messages it receives to
:class:`ConnectionEvents` on the event loop, subscribes, and publishes at QoS 1: the future it
returns resolves on a successful PUBACK and fails with ``Retryable`` or ``Rejected`` otherwise. Nothing is held for later while offline:
the spool, not the client, holds data.
"""

from __future__ import annotations

import asyncio
from enum import StrEnum
from typing import Protocol

from edge_agent.errors import Rejected, Retryable


class ConnectionState(StrEnum):
    STOPPED = "stopped"
    WAITING = "waiting"
    """Holding off (random jitter) before connecting, so a fleet does not reconnect in one wave."""
    CONNECTING = "connecting"
    CONNECTED = "connected"


class ConnectionEvents(Protocol):
    """Lifecycle callbacks; transports call them on the event loop's thread."""

    def on_connected(self) -> None: ...
    def on_connection_lost(self, error: BaseException | None) -> None: ...
    def on_connect_failed(self, error: BaseException | None) -> None: ...
    def on_message(self, topic: str, payload: bytes) -> None: ...


class MqttTransport(Protocol):
    def start(self) -> None:
        """Begin connecting (and keep retrying with backoff) until stopped."""
        ...

    async def stop(self) -> None:
        """Disconnect and stop retrying; publishes in flight fail with ``Retryable``."""
        ...

    def publish(self, topic: str, payload: bytes) -> asyncio.Future[None]:
        """Send one QoS 1 PUBLISH now; the future completes on its PUBACK."""
        ...

    def subscribe(self, topic_filter: str) -> asyncio.Future[None]:
        """Subscribe at QoS 1; the future fails with ``Rejected`` when the SUBACK refuses it."""
        ...

    def unsubscribe(self, topic_filter: str) -> asyncio.Future[None]: ...


PERMANENT_CLIENT_ERRORS = frozenset({
    "AWS_ERROR_MQTT5_PUBLISH_OPTIONS_VALIDATION",
    "AWS_ERROR_MQTT5_PACKET_VALIDATION",
    "AWS_ERROR_MQTT_INVALID_TOPIC",
    "AWS_ERROR_MQTT5_INVALID_UTF8_STRING",
})
"""awscrt errors meaning this very publish can never succeed (e.g. larger than the server's
maximum packet size); every other client error is a connection problem worth retrying."""


def classify_client_error(exc: BaseException) -> Retryable | Rejected:
    """Map an exception from the client library to what the spool should do with the batch."""
    name = str(getattr(exc, "name", "")) or type(exc).__name__
    if name in PERMANENT_CLIENT_ERRORS:
        return Rejected(f"client refused the publish: {name}")
    return Retryable(f"publish failed: {name}")
