"""The direct MQTT sink: QoS 1 publishes over mutual TLS to AWS IoT Core or the local rig.

``send`` returns only after the broker's PUBACK. Sends may be issued concurrently (up to
``max_in_flight`` unacknowledged); they reach the wire in the order they were issued, because
each send passes one FIFO admission gate — the in-flight window, then the rate limiter — before
it is handed to the client. Nothing is queued while offline: ``send`` raises ``Retryable`` at once
and the spool keeps the batch.

The same code talks to AWS IoT Core unchanged: the client id is the thing name, endpoint and port
come from the config, certificate and key from the identity, and the CA is passed only when the
identity has one (otherwise the system trust store, which holds Amazon's roots, is used).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from typing import Self

from edge_agent.downlink import Message, MessageReceiver
from edge_agent.envelope import MAX_PAYLOAD_BYTES, Batch, TopicScheme
from edge_agent.errors import Rejected, Retryable
from edge_agent.identity import Identity
from edge_agent.metrics import Counters
from edge_agent.publish.causes import Broker, error_name
from edge_agent.publish.config import MqttPublishConfig
from edge_agent.publish.connection import ConnectionEvents, ConnectionState, MqttTransport
from edge_agent.publish.outage import ConnectFailureLog
from edge_agent.publish.ratelimit import PublishRateLimiter

logger = logging.getLogger(__name__)

TransportFactory = Callable[[MqttPublishConfig, Identity, ConnectionEvents], MqttTransport]


def default_transport(config: MqttPublishConfig, identity: Identity,
                      events: ConnectionEvents) -> MqttTransport:
    """awscrt's MQTT 5 client, or its 3.1.1 connection for ``protocol: mqtt311``."""
    if config.protocol == "mqtt311":
        from edge_agent.publish.mqtt311 import Mqtt311Transport

        return Mqtt311Transport(config, identity, events)
    from edge_agent.publish.mqtt5 import Mqtt5Transport

    return Mqtt5Transport(config, identity, events)


class MqttSink:
    """A :class:`~edge_agent.interfaces.Sink` publishing batches at QoS 1 to basic-ingest topics,
    and the :class:`~edge_agent.downlink.MessageChannel` of the agent's downlink (its messages pass
    the same in-flight window and rate limit as batches).

    Counters: ``published`` (handed to the client), ``acked``, ``retried``, ``rejected``,
    ``connects``, ``disconnects``, ``connect_failures``; gauges ``state``, ``in_flight`` and
    ``link_problem`` (why connecting fails, in a few words; empty once connected). Failed connects
    are logged by :class:`~edge_agent.publish.outage.ConnectFailureLog`.
    """

    def __init__(self, config: MqttPublishConfig, identity: Identity, *,
                 transport_factory: TransportFactory = default_transport,
                 clock: Callable[[], float] = time.monotonic, rng: random.Random | None = None) -> None:
        self.config = config
        self.identity = identity
        self.counters = Counters()
        self._transport_factory = transport_factory
        self._transport: MqttTransport | None = None
        self._limiter = PublishRateLimiter(config.rate_limit, clock)
        self._rng = rng or random.Random()
        self._admission = asyncio.Lock()
        self._window = asyncio.Semaphore(config.max_in_flight)
        self._in_flight = 0
        self._connected = asyncio.Event()
        self._lifecycle: asyncio.Task[None] | None = None
        self._closing = False
        self._topics: dict[tuple[str, str, str], TopicScheme] = {}
        self._receiver: MessageReceiver | None = None
        self.connect_failures = ConnectFailureLog(Broker(
            config.endpoint, config.port, identity.ca_path, identity.cert_path, identity.key_path,
            identity.thing_name), self.counters)
        self._set_state(ConnectionState.STOPPED)

    # lifecycle -------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self._closing = False
        self._transport = self._transport_factory(self.config, self.identity, self)
        self._set_state(ConnectionState.WAITING)
        self._lifecycle = asyncio.create_task(self._connect_after_jitter(), name="mqtt-connect")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closing = True
        if self._lifecycle is not None:
            self._lifecycle.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._lifecycle
        self.connect_failures.close()
        if self._transport is not None:
            await self._transport.stop()
        self._connected.clear()
        self._set_state(ConnectionState.STOPPED)

    @property
    def state(self) -> ConnectionState:
        return self._state

    @property
    def connected(self) -> bool:
        return self._state is ConnectionState.CONNECTED

    async def wait_connected(self, within: float) -> None:
        """Wait until the sink is connected (TimeoutError after ``within`` seconds)."""
        await asyncio.wait_for(self._connected.wait(), within)

    def _set_state(self, state: ConnectionState) -> None:
        self._state = state
        self.counters.set("state", state.value)

    async def _connect_after_jitter(self, stop_first: bool = False) -> None:
        """Hold off a random [0, connect_jitter] s, then connect (the client retries with backoff)."""
        assert self._transport is not None
        if stop_first:
            await self._transport.stop()
        self._set_state(ConnectionState.WAITING)
        delay = self._rng.uniform(0, self.config.connect_jitter)
        logger.debug("mqtt_connect_wait", extra={"thing": self.identity.thing_name, "delay": round(delay, 3)})
        await asyncio.sleep(delay)
        self._set_state(ConnectionState.CONNECTING)
        self._transport.start()

    # ConnectionEvents (called on the event loop) ----------------------------------------------

    def on_connected(self) -> None:
        if self._closing or self._state is ConnectionState.WAITING:
            return  # a connection the client made on its own before the jittered restart stops it
        self.counters.inc("connects")
        self._set_state(ConnectionState.CONNECTED)
        self._connected.set()
        self.connect_failures.connected()
        logger.info("mqtt_connected", extra={"thing": self.identity.thing_name,
                                             "endpoint": f"{self.config.endpoint}:{self.config.port}"})
        if self._receiver is not None:
            self._receiver.on_channel_up()

    def on_connection_lost(self, error: BaseException | None) -> None:
        self._connected.clear()
        if self._closing or self._state is not ConnectionState.CONNECTED:
            return
        self.counters.inc("disconnects")
        self._set_state(ConnectionState.WAITING)
        logger.warning("mqtt_connection_lost", extra={"thing": self.identity.thing_name,
                                                      "error": error_name(error)})
        self._lifecycle = asyncio.create_task(self._connect_after_jitter(stop_first=True),
                                              name="mqtt-reconnect")

    def on_connect_failed(self, error: BaseException | None) -> None:
        self.counters.inc("connect_failures")
        if self._closing:
            return
        self.connect_failures.failed(error)

    def on_message(self, topic: str, payload: bytes) -> None:
        if self._receiver is not None:
            self._receiver.on_message(Message(topic, payload))

    # MessageChannel -------------------------------------------------------------------------

    def attach(self, receiver: MessageReceiver | None) -> None:
        self._receiver = receiver

    async def subscribe(self, topic_filter: str) -> None:
        await self._acked(self._require_connection().subscribe(topic_filter), "SUBACK")

    async def unsubscribe(self, topic_filter: str) -> None:
        await self._acked(self._require_connection().unsubscribe(topic_filter), "UNSUBACK")

    async def publish_message(self, topic: str, payload: bytes) -> None:
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise Rejected(f"{len(payload)} bytes to {topic}; IoT Core accepts at most {MAX_PAYLOAD_BYTES}")
        await self._publish_acked(topic, payload)

    async def _acked(self, future: asyncio.Future[None], what: str) -> None:
        try:
            await asyncio.wait_for(future, self.config.publish_timeout)
        except TimeoutError:
            raise Retryable(f"no {what} within {self.config.publish_timeout:g} s") from None

    # sending --------------------------------------------------------------------------------

    def topic_for(self, batch: Batch) -> str:
        """``$aws/rules/<rule>/dt/<site>/<assetType>/<deviceId>/telemetry`` (or ``.../alarm``)."""
        key = (batch.site, batch.asset_type, batch.device)
        scheme = self._topics.get(key)
        if scheme is None:
            scheme = TopicScheme(batch.site, batch.asset_type, batch.device,
                                 rule=self.config.rule, alarm_rule=self.config.alarm_rule)
            self._topics[key] = scheme
        return scheme.for_batch(batch)

    async def send(self, batch: Batch) -> None:
        """Publish one batch at QoS 1 and return after its PUBACK.

        Raises ``Rejected`` for a payload over 128 KB or a publish the broker refuses for good,
        ``Retryable`` when offline, on a lost connection, a timeout or throttling.
        """
        payload = batch.encode()
        if len(payload) > MAX_PAYLOAD_BYTES:
            self.counters.inc("rejected")
            raise Rejected(f"batch {batch.seq} is {len(payload)} bytes; IoT Core accepts at most "
                           f"{MAX_PAYLOAD_BYTES} (limits-iot.md)")
        try:
            await self._publish_acked(self.topic_for(batch), payload)
        except Retryable:
            self.counters.inc("retried")
            raise
        except Rejected as exc:
            self.counters.inc("rejected")
            logger.warning("mqtt_publish_rejected", extra={"thing": self.identity.thing_name,
                                                           "seq": batch.seq, "error": str(exc)})
            raise
        self.counters.inc("acked")

    async def _publish_acked(self, topic: str, payload: bytes) -> None:
        """Publish through the FIFO gate and wait for the PUBACK."""
        acked = await self._admit(topic, payload)
        try:
            await self._acked(acked, "PUBACK")
        finally:
            self._in_flight -= 1
            self.counters.set("in_flight", self._in_flight)
            self._window.release()

    async def _admit(self, topic: str, payload: bytes) -> asyncio.Future[None]:
        """Pass the FIFO gate: a window slot, then the rate limit; hand the publish to the client.

        On return the caller owns one window slot and must release it.
        """
        async with self._admission:
            self._require_connection()
            await self._window.acquire()
            try:
                delay = self._limiter.reserve(len(payload))
                if delay > 0:
                    await asyncio.sleep(delay)
                transport = self._require_connection()
                acked = transport.publish(topic, payload)
            except BaseException:
                self._window.release()
                raise
            self._in_flight += 1
            self.counters.set("in_flight", self._in_flight)
            self.counters.inc("published")
            return acked

    def _require_connection(self) -> MqttTransport:
        if self._transport is None or not self.connected:
            raise Retryable(f"not connected to {self.config.endpoint}:{self.config.port} "
                            f"({self._state.value})")
        return self._transport
