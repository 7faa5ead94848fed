"""MQTT 5 transport on awscrt's native client (preferred: jittered reconnects, PUBACK reason codes).

The client retries failed connects itself with exponential backoff and full jitter; publishes
fail at once while it is offline (``FAIL_ALL_ON_DISCONNECT``) instead of being queued, because
the spool holds the data. The client's own IoT Core flow control is off: the sink's rate limiter
applies the same per-connection limits, configurably.

TLS setup cost: awscrt (s2n) parses the system trust store for every client it builds (~10 ms
here), even when a CA file is given. A process that builds thousands of clients against the rig
(the fleet simulator) should point ``SSL_CERT_FILE`` at the rig's CA and ``SSL_CERT_DIR`` at an
empty directory before building them: ~0.5 ms per client (FIELD-NOTES).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import Future

from awscrt import mqtt5
from awsiot import mqtt5_client_builder

from edge_agent.errors import Rejected, Retryable
from edge_agent.identity import Identity
from edge_agent.publish.causes import ConnackRefused
from edge_agent.publish.config import MqttPublishConfig
from edge_agent.publish.connection import ConnectionEvents, classify_client_error
from edge_agent.publish.links import build_client

logger = logging.getLogger(__name__)

STOP_TIMEOUT = 10.0

REJECTING_REASONS = frozenset({
    mqtt5.PubackReasonCode.NOT_AUTHORIZED,
    mqtt5.PubackReasonCode.TOPIC_NAME_INVALID,
    mqtt5.PubackReasonCode.PAYLOAD_FORMAT_INVALID,
})
"""PUBACK reason codes that refuse this message for good; other failures (quota exceeded, i.e.
throttled, or unspecified errors) are worth retrying."""


def puback_outcome(reason: mqtt5.PubackReasonCode) -> Retryable | Rejected | None:
    """None for success (reason < 0x80, incl. "no matching subscribers"), else the error to raise."""
    if reason < 0x80:
        return None
    if reason in REJECTING_REASONS:
        return Rejected(f"broker refused the publish: PUBACK {reason.name}")
    return Retryable(f"broker did not accept the publish: PUBACK {reason.name}")


def connect_error(data: mqtt5.LifecycleConnectFailureData) -> BaseException | None:
    """The broker's refusing CONNACK when there was one (it says why), else the client's error."""
    connack = data.connack_packet
    if connack is not None and connack.reason_code >= 0x80:
        return ConnackRefused(mqtt5.ConnectReasonCode(connack.reason_code).name)
    error: BaseException | None = data.exception
    return error


class Mqtt5Transport:
    """One awscrt MQTT 5 client, client id = thing name, connected as ``config.auth`` says."""

    def __init__(self, config: MqttPublishConfig, identity: Identity, events: ConnectionEvents) -> None:
        self._loop = asyncio.get_running_loop()
        self._events = events
        self._stopped = asyncio.Event()
        self._client = build_client(
            mqtt5_client_builder, config, identity,
            keep_alive_interval_sec=int(config.keep_alive),
            session_behavior=mqtt5.ClientSessionBehaviorType.CLEAN,
            offline_queue_behavior=mqtt5.ClientOperationQueueBehaviorType.FAIL_ALL_ON_DISCONNECT,
            extended_validation_and_flow_control_options=(
                mqtt5.ExtendedValidationAndFlowControlOptions.NONE),
            retry_jitter_mode=mqtt5.ExponentialBackoffJitterMode.FULL,
            min_reconnect_delay_ms=int(config.reconnect_min * 1000),
            max_reconnect_delay_ms=int(config.reconnect_max * 1000),
            ack_timeout_sec=max(1, int(config.publish_timeout)),
            on_lifecycle_connection_success=lambda _: self._call(events.on_connected),
            on_lifecycle_disconnection=lambda data: self._call(events.on_connection_lost, data.exception),
            on_lifecycle_connection_failure=lambda data: self._call(events.on_connect_failed,
                                                                    connect_error(data)),
            on_lifecycle_stopped=lambda _: self._call(self._stopped.set),
            on_publish_received=lambda data: self._call(
                events.on_message, data.publish_packet.topic, bytes(data.publish_packet.payload or b"")),
        )

    def _call(self, callback: Callable[..., None], *args: object) -> None:
        """Run ``callback`` on the event loop (client callbacks come on awscrt's threads); a client
        that reports after its loop closed (a stop that outlived its wait) has nobody to tell."""
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(callback, *args)

    def start(self) -> None:
        self._stopped.clear()
        self._client.start()

    async def stop(self) -> None:
        self._client.stop()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), STOP_TIMEOUT)

    def publish(self, topic: str, payload: bytes) -> asyncio.Future[None]:
        done: asyncio.Future[None] = self._loop.create_future()
        packet = mqtt5.PublishPacket(topic=topic, payload=payload, qos=mqtt5.QoS.AT_LEAST_ONCE)
        self._client.publish(packet).add_done_callback(
            lambda f: self._loop.call_soon_threadsafe(_settle, done, f))
        return done

    def subscribe(self, topic_filter: str) -> asyncio.Future[None]:
        # no_local: a device answering on a topic under its own subscription does not hear itself
        packet = mqtt5.SubscribePacket(subscriptions=[mqtt5.Subscription(
            topic_filter, qos=mqtt5.QoS.AT_LEAST_ONCE, no_local=True)])
        return self._acknowledged(self._client.subscribe(packet), f"SUBSCRIBE {topic_filter}")

    def unsubscribe(self, topic_filter: str) -> asyncio.Future[None]:
        packet = mqtt5.UnsubscribePacket(topic_filters=[topic_filter])
        return self._acknowledged(self._client.unsubscribe(packet), f"UNSUBSCRIBE {topic_filter}")

    def _acknowledged(self, operation: Future[mqtt5.SubackPacket] | Future[mqtt5.UnsubackPacket],
                      what: str) -> asyncio.Future[None]:
        """A future settled by the SUBACK / UNSUBACK: ``Rejected`` for a failure reason code."""
        done: asyncio.Future[None] = self._loop.create_future()

        def settle(completed: Future[mqtt5.SubackPacket] | Future[mqtt5.UnsubackPacket]) -> None:
            if done.done():
                return
            error = completed.exception()
            if error is not None:
                done.set_exception(Retryable(f"{what} failed: {getattr(error, 'name', error)}"))
                return
            refused = [code for code in completed.result().reason_codes if code >= 0x80]
            if refused:
                done.set_exception(Rejected(f"{what} refused: {refused[0].name}"))
            else:
                done.set_result(None)

        operation.add_done_callback(lambda f: self._loop.call_soon_threadsafe(settle, f))
        return done


def _settle(done: asyncio.Future[None], completed: Future[mqtt5.PublishCompletionData]) -> None:
    if done.done():  # the waiter gave up (timeout, cancellation)
        return
    error = completed.exception()
    if error is not None:
        done.set_exception(classify_client_error(error))
        return
    outcome = puback_outcome(completed.result().puback.reason_code)
    if outcome is None:
        done.set_result(None)
    else:
        done.set_exception(outcome)
