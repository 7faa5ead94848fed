"""MQTT 3.1.1 transport on awscrt's ``mqtt.Connection`` (``protocol: mqtt311``).

awscrt's 3.1.1 connection does not retry a failed first connect and reconnects on a fixed
schedule without jitter (FIELD-NOTES), so this transport drives connecting itself: exponential
backoff with full jitter, and after a connection loss the sink stops it and starts it again.
MQTT 3.1.1 has no PUBACK reason codes: a broker that refuses a publish either drops it silently
(Mosquitto) or closes the connection (IoT Core).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from awscrt import mqtt
from awsiot import mqtt_connection_builder

from edge_agent.backoff import Backoff
from edge_agent.errors import Rejected, Retryable
from edge_agent.identity import Identity
from edge_agent.publish.config import MqttPublishConfig
from edge_agent.publish.connection import ConnectionEvents, classify_client_error
from edge_agent.publish.links import build_client

logger = logging.getLogger(__name__)

DISCONNECT_TIMEOUT = 10.0


class Mqtt311Transport:
    """One awscrt MQTT 3.1.1 connection (clean session, client id = thing name)."""

    def __init__(self, config: MqttPublishConfig, identity: Identity, events: ConnectionEvents) -> None:
        self._loop = asyncio.get_running_loop()
        self._events = events
        self._config = config
        self._pending: set[asyncio.Future[None]] = set()
        self._connector: asyncio.Task[None] | None = None
        self._connection = build_client(
            mqtt_connection_builder, config, identity,
            clean_session=True, keep_alive_secs=int(config.keep_alive),
            reconnect_min_timeout_secs=max(1, int(config.reconnect_min)),
            reconnect_max_timeout_secs=max(1, int(config.reconnect_max)),
            on_connection_interrupted=lambda connection, error, **_: self._call(self._lost, error),
            on_connection_resumed=lambda connection, return_code, session_present, **_: self._call(
                self._events.on_connected),
        )
        self._connection.on_message(lambda topic, payload, **_: self._call(self._events.on_message,
                                                                          topic, bytes(payload)))

    def _call(self, callback: Callable[..., None], *args: object) -> None:
        self._loop.call_soon_threadsafe(callback, *args)

    def _lost(self, error: BaseException | None) -> None:
        self._fail_pending(Retryable("connection lost"))
        self._events.on_connection_lost(error)

    def start(self) -> None:
        if self._connector is None or self._connector.done():
            self._connector = self._loop.create_task(self._connect_until_up(), name="mqtt311-connect")

    async def _connect_until_up(self) -> None:
        backoff = Backoff(self._config.reconnect_min, self._config.reconnect_max)
        while True:
            try:
                await asyncio.wrap_future(self._connection.connect())
            except Exception as exc:
                self._events.on_connect_failed(exc)
                await asyncio.sleep(backoff.next())
                continue
            self._events.on_connected()
            return

    async def stop(self) -> None:
        if self._connector is not None:
            self._connector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connector
            self._connector = None
        self._fail_pending(Retryable("connection stopped"))
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.wrap_future(self._connection.disconnect()), DISCONNECT_TIMEOUT)

    def publish(self, topic: str, payload: bytes) -> asyncio.Future[None]:
        done: asyncio.Future[None] = self._loop.create_future()
        self._pending.add(done)
        done.add_done_callback(self._pending.discard)
        future, _packet_id = self._connection.publish(topic, payload, mqtt.QoS.AT_LEAST_ONCE)
        future.add_done_callback(lambda f: self._loop.call_soon_threadsafe(_settle, done, f))
        return done

    def subscribe(self, topic_filter: str) -> asyncio.Future[None]:
        future, _packet_id = self._connection.subscribe(topic_filter, mqtt.QoS.AT_LEAST_ONCE)
        return self._tracked(future, f"SUBSCRIBE {topic_filter}")

    def unsubscribe(self, topic_filter: str) -> asyncio.Future[None]:
        future, _packet_id = self._connection.unsubscribe(topic_filter)
        return self._tracked(future, f"UNSUBSCRIBE {topic_filter}")

    def _tracked(self, operation: Future[dict[str, Any]], what: str) -> asyncio.Future[None]:
        """A future settled by the SUBACK / UNSUBACK (a SUBACK return code 0x80 is ``Rejected``),
        failed with ``Retryable`` when the connection goes first."""
        done: asyncio.Future[None] = self._loop.create_future()
        self._pending.add(done)
        done.add_done_callback(self._pending.discard)

        def settle(completed: Future[dict[str, Any]]) -> None:
            if done.done():
                return
            error = completed.exception()
            if isinstance(error, mqtt.SubscribeError):
                done.set_exception(Rejected(f"{what} refused: SUBACK return code 0x80"))
            elif error is not None:
                done.set_exception(Retryable(f"{what} failed: {getattr(error, 'name', error)}"))
            else:
                done.set_result(None)

        operation.add_done_callback(lambda f: self._loop.call_soon_threadsafe(settle, f))
        return done

    def _fail_pending(self, error: Retryable) -> None:
        """The 3.1.1 client would resend these after a reconnect; the spool does that instead."""
        for future in list(self._pending):
            if not future.done():
                future.set_exception(error)


def _settle(done: asyncio.Future[None], completed: Future[dict[str, Any]]) -> None:
    if done.done():
        return
    error = completed.exception()
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(classify_client_error(error))
