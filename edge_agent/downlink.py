"""Messages down to the agent, and its replies up, over the connection its sink already holds.

Commands, the device shadow, jobs and Device Defender all speak MQTT request/response on topics of
their own. They do not open connections of their own (IoT Core allows one connection per client
id, and a Greengrass component talks through the nucleus): each registers a route — a topic filter
and a handler — with the agent's :class:`Downlink`, which subscribes through the sink's
:class:`MessageChannel` and re-subscribes on every new connection (the agent connects with a clean
session, so the broker forgets subscriptions when the connection drops) and whenever the sink is
swapped by a configuration update.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, Self, runtime_checkable

from edge_agent.errors import Rejected, Retryable
from edge_agent.metrics import Counters
from edge_agent.topic_filter import topic_matches

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    """One message received on a subscribed topic."""

    topic: str
    payload: bytes

    def json(self) -> Any:
        """The payload parsed as JSON (``ValueError`` when it is not)."""
        return json.loads(self.payload)


MessageHandler = Callable[[Message], Awaitable[None]]


class MessageReceiver(Protocol):
    """What a channel tells the downlink (on the event loop)."""

    def on_channel_up(self) -> None:
        """A (new) connection is up: whatever was subscribed before is gone."""
        ...

    def on_message(self, message: Message) -> None: ...


@runtime_checkable
class MessageChannel(Protocol):
    """The part of a sink that carries messages both ways (direct MQTT, Greengrass IPC)."""

    def attach(self, receiver: MessageReceiver | None) -> None:
        """Deliver incoming messages and connection events to ``receiver`` (None: stop)."""
        ...

    @property
    def connected(self) -> bool: ...

    async def subscribe(self, topic_filter: str) -> None:
        """Subscribe at QoS 1; ``Rejected`` when the broker refuses it, ``Retryable`` when offline."""
        ...

    async def unsubscribe(self, topic_filter: str) -> None: ...

    async def publish_message(self, topic: str, payload: bytes) -> None:
        """Publish at QoS 1 and return once acknowledged (``Retryable`` / ``Rejected`` otherwise)."""
        ...


class Downlink:
    """Routes of topic filters to handlers, kept across reconnects and sink swaps.

    Counters: ``received``, ``unrouted`` (a message no route matches), ``handler_errors``,
    ``subscribe_failures``, ``published``, ``publish_failures``.
    """

    def __init__(self) -> None:
        self.counters = Counters()
        self._routes: dict[str, MessageHandler] = {}
        self._refused: dict[str, str] = {}
        self._channel: MessageChannel | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._up = asyncio.Event()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.bind(None)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # binding to the sink ------------------------------------------------------------------------

    def bind(self, channel: object | None) -> None:
        """Use ``channel`` (the current sink, if it is a :class:`MessageChannel`) from now on."""
        if self._channel is not None:
            self._channel.attach(None)
        self._channel = channel if isinstance(channel, MessageChannel) else None
        self._up.clear()
        if self._channel is not None:
            self._channel.attach(self)
            if self._channel.connected:
                self.on_channel_up()

    @property
    def connected(self) -> bool:
        return self._channel is not None and self._channel.connected and self._up.is_set()

    async def wait_connected(self, within: float) -> None:
        """Wait until the routes are subscribed on a live connection (TimeoutError otherwise)."""
        await asyncio.wait_for(self._up.wait(), within)

    # MessageReceiver --------------------------------------------------------------------------

    def on_channel_up(self) -> None:
        self._up.clear()
        self._spawn(self._resubscribe(), "downlink-subscribe")

    def on_message(self, message: Message) -> None:
        self.counters.inc("received")
        handlers = [h for f, h in self._routes.items() if topic_matches(f, message.topic)]
        if not handlers:
            self.counters.inc("unrouted")
            return
        for handler in handlers:
            self._spawn(self._handle(handler, message), "downlink-handler")

    # routes ------------------------------------------------------------------------------------

    async def subscribe(self, topic_filter: str, handler: MessageHandler) -> None:
        """Route ``topic_filter`` to ``handler`` and subscribe now if connected (``Rejected`` when
        the broker refuses the subscription); otherwise it is subscribed on the next connection."""
        self._routes[topic_filter] = handler
        channel = self._channel
        if channel is None or not channel.connected:
            return
        try:
            await channel.subscribe(topic_filter)
        except Retryable:
            return  # the next connection subscribes it
        except Rejected as exc:
            self._routes.pop(topic_filter, None)
            self.counters.inc("subscribe_failures")
            raise Rejected(f"subscription to {topic_filter} refused: {exc}") from None

    async def unsubscribe(self, topic_filter: str) -> None:
        if self._routes.pop(topic_filter, None) is None:
            return
        channel = self._channel
        if channel is not None and channel.connected:
            with contextlib.suppress(Retryable, Rejected):
                await channel.unsubscribe(topic_filter)

    async def publish(self, topic: str, payload: bytes | str | dict[str, Any] | list[Any]) -> None:
        """Publish at QoS 1 over the sink's connection (dicts and lists are sent as JSON).

        Raises ``Retryable`` when offline or unacknowledged, ``Rejected`` when refused."""
        channel = self._channel
        if channel is None:
            raise Retryable("the agent's sink carries no messages (publish: mqtt or greengrass)")
        if isinstance(payload, dict | list):
            payload = json.dumps(payload, separators=(",", ":")).encode()
        elif isinstance(payload, str):
            payload = payload.encode()
        try:
            await channel.publish_message(topic, payload)
        except (Retryable, Rejected):
            self.counters.inc("publish_failures")
            raise
        self.counters.inc("published")

    # internals ---------------------------------------------------------------------------------

    def _spawn(self, work: Awaitable[None], name: str) -> None:
        task = asyncio.ensure_future(work)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _resubscribe(self) -> None:
        channel = self._channel
        if channel is None:
            return
        filters = list(self._routes)
        results = await asyncio.gather(*(channel.subscribe(f) for f in filters), return_exceptions=True)
        for topic_filter, result in zip(filters, results, strict=True):
            if isinstance(result, Rejected):
                self.counters.inc("subscribe_failures")
                if self._refused.get(topic_filter) != str(result):
                    log.warning("downlink_subscribe_refused", extra={"filter": topic_filter,
                                                                     "error": str(result)})
                self._refused[topic_filter] = str(result)
            elif isinstance(result, BaseException):
                return  # the connection went again; the next one resubscribes
        if channel is self._channel and channel.connected:
            self._up.set()

    async def _handle(self, handler: MessageHandler, message: Message) -> None:
        try:
            await handler(message)
        except asyncio.CancelledError:
            raise
        except Exception:
            self.counters.inc("handler_errors")
            log.exception("downlink_handler_failed", extra={"topic": message.topic})
