"""Attach the rules runner to an MQTT broker (the local rig or any broker) with awscrt MQTT5.

The runner subscribes to ``$aws/rules/#`` (basic ingest) and to each enabled rule's topic
filter, one SUBSCRIBE per filter with its own subscription identifier. When filters overlap, a
broker may deliver one copy per matching subscription (MQTT 5.0, 3.3.4); only the copy carrying
the lowest matching identifier is processed, so every message runs through the rules once.
Messages are handed from awscrt's thread to ``workers`` asyncio workers chosen by topic, so the
messages of one topic (one device) are processed one at a time in arrival order while different
devices' messages overlap their disk and network waits.

A QoS 1 message is acknowledged (PUBACK, under manual acknowledgement control) only once it has
run through the rules, so with the persistent session the broker redelivers whatever a crash or
a stop left unprocessed — the sinks being idempotent, nothing is lost and nothing doubled — and
the broker's in-flight window (``max_inflight_messages``) bounds what waits in the runner.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Awaitable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from cloud.rig.rules import CLIENT_ID_PROPERTY, PRINCIPAL_PROPERTY
from edge_agent.topic_filter import topic_matches

if TYPE_CHECKING:
    from cloud.rules.actions.base import PublishProperties

logger = logging.getLogger(__name__)

BASIC_INGEST_FILTER = "$aws/rules/#"
SESSION_EXPIRY_S = 7 * 24 * 3600
T = TypeVar("T")


class Handler(Protocol):
    """Takes one message with who published it (client id and certificate id, as the broker says)."""

    def __call__(self, topic: str, payload: bytes, *, clientid: str | None,
                 principal: str | None) -> Awaitable[Any]: ...


_Item = tuple[str, bytes, list[int], Any, dict[str, str]]
"""topic, payload, subscription identifiers, PUBACK control handle (None for QoS 0), the
publisher's user properties."""


class AttachError(Exception):
    """The runner could not connect or subscribe; the message is one line for a user."""


@dataclass(frozen=True, slots=True)
class MqttSettings:
    """Broker endpoint and the privileged client identity (mutual TLS)."""

    host: str
    port: int
    ca: Path
    cert: Path
    key: Path
    client_id: str = "edgeferry-rules-runner"
    connect_timeout: float = 30.0

    @classmethod
    def from_rig(cls, directory: Path) -> MqttSettings:
        """The local rig in ``directory`` (started with ``edgeferry cloud up``), as its cloud identity."""
        from cloud.rig import Rig, RigError

        rig = Rig(directory)
        try:
            port = rig.port  # first: a directory that never held a rig has none (and gets no CA)
            identity = rig.cloud_identity
            return cls(rig.host, port, rig.ca_path, identity.cert_path, identity.key_path)
        except RigError as exc:
            raise AttachError(str(exc)) from None



class MqttAttachment:
    """An awscrt MQTT5 client feeding ``handler(topic, payload)`` one message at a time."""

    def __init__(self, settings: MqttSettings, handler: Handler, topic_filters: Sequence[str], *,
                 workers: int = 4, basic_ingest: bool = True) -> None:
        self.settings = settings
        self._handler = handler
        first = [BASIC_INGEST_FILTER] if basic_ingest else []
        self.filters = list(dict.fromkeys([*first, *(f for f in topic_filters if f)]))
        self._loop = asyncio.get_running_loop()
        self._queues: list[asyncio.Queue[_Item | None]] = [asyncio.Queue() for _ in range(max(1, workers))]
        self._closing = False
        self._connected = asyncio.Event()
        self._stopped = asyncio.Event()
        self._failure: str | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._subscribing: asyncio.Task[None] | None = None
        self._client: Any = None
        self.duplicates = 0

    async def start(self) -> None:
        from awscrt import mqtt5
        from awsiot import mqtt5_client_builder

        s = self.settings
        self._client = mqtt5_client_builder.mtls_from_path(
            endpoint=s.host, port=s.port, cert_filepath=str(s.cert), pri_key_filepath=str(s.key),
            ca_filepath=str(s.ca), client_id=s.client_id,
            extended_validation_and_flow_control_options=mqtt5.ExtendedValidationAndFlowControlOptions.NONE,
            # A persistent session: the broker keeps the subscriptions and queues messages while
            # this client is away, as IoT Core's rules engine never misses a PUBACKed message.
            session_behavior=mqtt5.ClientSessionBehaviorType.REJOIN_ALWAYS,
            session_expiry_interval_sec=SESSION_EXPIRY_S,
            retry_jitter_mode=mqtt5.ExponentialBackoffJitterMode.FULL,
            min_reconnect_delay_ms=250, max_reconnect_delay_ms=10_000,
            enable_metrics_collection=False,
            on_publish_received=self._on_publish,
            on_lifecycle_connection_success=lambda _: self._loop.call_soon_threadsafe(self._on_connected),
            on_lifecycle_connection_failure=lambda data: self._loop.call_soon_threadsafe(
                self._on_failure, str(data.exception)),
            on_lifecycle_stopped=lambda _: self._loop.call_soon_threadsafe(self._stopped.set),
        )
        self._client.start()
        try:
            await asyncio.wait_for(self._connected.wait(), s.connect_timeout)
            if self._subscribing is not None:
                await self._subscribing
        except TimeoutError:
            await self.stop()
            raise AttachError(f"cannot connect to mqtts://{s.host}:{s.port} within {s.connect_timeout:g} s"
                              + (f": {self._failure}" if self._failure else "")) from None
        self._workers = [asyncio.create_task(self._work(queue)) for queue in self._queues]

    def _on_connected(self) -> None:
        """Subscribe on every connection (a rejoined session keeps its subscriptions, a new one has
        none; subscribing again is harmless)."""
        self._connected.set()
        logger.info("rules_runner_connected", extra={"host": self.settings.host, "port": self.settings.port})
        self._subscribing = asyncio.create_task(self._subscribe())

    def _on_failure(self, error: str) -> None:
        self._failure = error
        logger.warning("rules_runner_connect_failed", extra={"error": error})

    async def _subscribe(self) -> None:
        from awscrt import mqtt5

        for identifier, topic_filter in enumerate(self.filters, start=1):
            packet = mqtt5.SubscribePacket(
                subscriptions=[mqtt5.Subscription(topic_filter, mqtt5.QoS.AT_LEAST_ONCE)],
                subscription_identifier=identifier)
            try:
                suback = await self._wait(self._client.subscribe(packet))
            except Exception as exc:
                logger.warning("rules_runner_subscribe_failed", extra={"filter": topic_filter, "error": exc})
                continue
            codes = [int(code) for code in suback.reason_codes]
            if any(code >= 0x80 for code in codes):
                logger.warning("rules_runner_subscription_refused", extra={"filter": topic_filter,
                                                                           "reason": codes})

    def _on_publish(self, data: Any) -> None:
        """On awscrt's thread: take the PUBACK into our hands and queue the message; once stopping,
        hold it unacknowledged so that the broker delivers it again to the next session."""
        packet = data.publish_packet
        control = data.acquire_publish_acknowledgement_control
        handle = control() if control is not None else None
        if self._closing:
            return
        publisher = {p.name: p.value for p in packet.user_properties or ()
                     if p.name in (CLIENT_ID_PROPERTY, PRINCIPAL_PROPERTY)}
        item = (packet.topic, bytes(packet.payload or b""), list(packet.subscription_identifiers or []), handle,
                publisher)
        queue = self._queues[zlib.crc32(packet.topic.encode()) % len(self._queues)]
        self._loop.call_soon_threadsafe(queue.put_nowait, item)

    async def _work(self, queue: asyncio.Queue[_Item | None]) -> None:
        while (item := await queue.get()) is not None:
            topic, payload, identifiers, handle, publisher = item
            try:
                if identifiers and min(identifiers) != self._first_match(topic):
                    self.duplicates += 1
                else:
                    await self._handler(topic, payload, clientid=publisher.get(CLIENT_ID_PROPERTY),
                                        principal=publisher.get(PRINCIPAL_PROPERTY))
            except Exception:
                logger.exception("rules_runner_message_failed", extra={"topic": topic})
            finally:
                self._acknowledge(handle)

    def _acknowledge(self, handle: Any) -> None:
        if handle is None or self._client is None:
            return
        try:
            self._client.invoke_publish_acknowledgement(handle)
        except Exception as exc:  # the connection dropped: the broker will deliver it again
            logger.info("rules_runner_puback_lost", extra={"error": str(exc)})

    def _first_match(self, topic: str) -> int | None:
        return next((i for i, f in enumerate(self.filters, start=1) if topic_matches(f, topic)), None)

    async def publish(self, topic: str, payload: bytes, qos: int,
                      properties: PublishProperties | None = None) -> None:
        """Publish (QoS 1: return after the PUBACK), with MQTT 5 ``properties`` if given."""
        from awscrt import mqtt5

        if self._client is None:
            raise RuntimeError("the rules runner is not connected")
        packet = mqtt5.PublishPacket(topic=topic, payload=payload, qos=mqtt5.QoS(qos))
        if properties is not None:
            if properties.payload_format_indicator is not None:
                packet.payload_format_indicator = (mqtt5.PayloadFormatIndicator.AWS_MQTT5_PFI_UTF8
                                                   if properties.payload_format_indicator == "UTF8_DATA"
                                                   else mqtt5.PayloadFormatIndicator.AWS_MQTT5_PFI_BYTES)
            packet.content_type = properties.content_type
            packet.response_topic = properties.response_topic
            packet.correlation_data_bytes = properties.correlation_data
            packet.message_expiry_interval_sec = properties.message_expiry
            packet.user_properties = [mqtt5.UserProperty(k, v) for k, v in properties.user_properties] or None
        result = await self._wait(self._client.publish(packet))
        puback = getattr(result, "puback", None)
        if puback is not None and int(puback.reason_code) >= 0x80:
            raise RuntimeError(f"broker refused the publish to {topic}: {puback.reason_code.name}")

    async def stop(self) -> None:
        """Finish (and acknowledge) the messages already queued, then disconnect; messages that
        arrive meanwhile stay unacknowledged for the next session."""
        self._closing = True
        for queue in self._queues:
            queue.put_nowait(None)
        await asyncio.gather(*self._workers)
        self._workers = []
        if self._client is not None:
            self._client.stop()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), 10)
        self._client = None

    async def _wait(self, future: Future[T]) -> T:
        return await asyncio.wait_for(asyncio.wrap_future(future), 30)
