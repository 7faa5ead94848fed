"""One connection to an OPC-UA server: connect, bind points, subscribe, re-read, poll, until lost."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import Final, Self

from asyncua import ua
from asyncua.client.client import Client
from asyncua.client.ua_client import UaClientState
from asyncua.common.node import Node

from edge_agent.envelope import Reading
from edge_agent.metrics import Counters
from edge_agent.sources.opcua.config import OpcUaDevice
from edge_agent.sources.opcua.connection import build_client
from edge_agent.sources.opcua.notifications import NotificationBatcher
from edge_agent.sources.opcua.poll import poll_forever, read_bindings
from edge_agent.sources.opcua.status import status_name
from edge_agent.sources.opcua.targets import Binding, NodeTarget, bind
from edge_agent.sources.opcua.values import bad_reading, now_ms

logger = logging.getLogger(__name__)

MONITORED_ITEMS_PER_CALL: Final = 500
"""CreateMonitoredItems requests stay small, so the watchdog's probe, queued behind them on the
same connection, is answered within its interval even for thousands of points."""


class ConnectionLost(Exception):
    """The watchdog or the socket reported the server gone."""


class OpcUaSession:
    """Opened by ``async with``; :meth:`start` subscribes and re-reads, :meth:`run` polls until the
    connection is lost. Subscribed readings go through ``offer`` (never blocks) and ``put_sampled``
    (re-read, may wait); poll cycles through ``put_polled``."""

    def __init__(self, config: OpcUaDevice, targets: Sequence[NodeTarget], counters: Counters, *,
                 offer: Callable[[list[Reading]], None],
                 put_sampled: Callable[[list[Reading]], Awaitable[None]],
                 put_polled: Callable[[list[Reading]], Awaitable[None]]) -> None:
        self._config = config
        self._targets = targets
        self._counters = counters
        self._offer = offer
        self._put_sampled = put_sampled
        self._put_polled = put_polled
        self._client: Client | None = None
        self._bindings: list[Binding] = []

    @property
    def client(self) -> Client:
        assert self._client is not None, "session not open"
        return self._client

    @property
    def bindings(self) -> list[Binding]:
        """Every point bound to its node on this connection (unresolved ones with their status)."""
        return self._bindings

    async def __aenter__(self) -> Self:
        self._client = await build_client(self._config)
        try:
            await self._client.connect()
            self._bindings = await bind(self._client, self._targets)
        except BaseException:
            # A refused connect leaves nothing open; a cancelled or half-done one may.
            if self._client.state is not UaClientState.DISCONNECTED:
                await self._close()
            raise
        for b in self._bindings:
            if b.node_id is None:
                logger.error("opcua_browse_path_unresolved", extra={
                    "device": self._config.name, "point": b.target.point, "path": b.target.address,
                    "status": status_name(b.status)})
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._close()

    async def start(self) -> None:
        """Create the subscription, then read every subscribed node once, so a value that changed
        while the connection was down is known now (the repeat filter drops the initial
        notifications that duplicate it)."""
        subscribed = [b for b in self._bindings if b.target.sampling == "subscribe"]
        if not subscribed:
            return
        monitored, failed = await self._subscribe(subscribed)
        scan = [bad_reading(self._config.name, b.target, b.status, now_ms()) for b in failed]
        scan += await read_bindings(self.client, self._config.name, monitored, self._counters,
                                    max_nodes=self._config.max_nodes_per_read)
        await self._put_sampled(scan)

    async def run(self) -> None:
        """Poll the polled points until the connection is lost; then raise :class:`ConnectionLost`."""
        polled = [b for b in self._bindings if b.target.sampling == "poll"]
        tasks = {asyncio.create_task(self._wait_lost())}
        if polled:
            tasks.add(asyncio.create_task(poll_forever(
                self.client, self._config.name, polled, self._config.poll_interval, self._put_polled,
                self._counters, max_nodes=self._config.max_nodes_per_read)))
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            task.result()
        raise ConnectionLost("connection lost")

    async def _subscribe(self, bindings: Sequence[Binding]) -> tuple[list[Binding], list[Binding]]:
        """Monitor ``bindings`` in one subscription: (accepted, refused with their Bad status)."""
        bound = [(b, b.node_id) for b in bindings if b.node_id is not None]
        refused = [b for b in bindings if b.node_id is None]
        if not bound:
            return [], refused
        by_node: defaultdict[ua.NodeId, list[NodeTarget]] = defaultdict(list)
        for b, node_id in bound:
            by_node[node_id].append(b.target)
        handler = NotificationBatcher(self._config.name, by_node, self._offer, self._counters)
        subscription = await self.client.create_subscription(self._config.publishing_interval * 1000, handler)
        nodes = [Node(self.client.uaclient.session, node_id) for _, node_id in bound]
        results: list[int | ua.StatusCode] = []
        for start in range(0, len(nodes), MONITORED_ITEMS_PER_CALL):
            results += await subscription.subscribe_data_change(
                nodes[start:start + MONITORED_ITEMS_PER_CALL], queuesize=self._config.queue_size,
                sampling_interval=ua.Double(self._config.sampling_interval * 1000))
        accepted = []
        for (b, _), result in zip(bound, results, strict=True):
            if isinstance(result, ua.StatusCode):
                refused.append(Binding(b.target, None, result.value))
                logger.error("opcua_monitor_failed", extra={
                    "device": self._config.name, "point": b.target.point, "node": b.target.address,
                    "status": status_name(result.value)})
            else:
                accepted.append(b)
        return accepted, refused

    async def _wait_lost(self) -> None:
        async with self.client.subscribe_state() as states:
            await states.wait_for_state(UaClientState.DISCONNECTED)

    async def _close(self) -> None:
        client = self._client
        if client is None:
            return
        self._client = None
        if client.state is UaClientState.CONNECTED:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.disconnect(), self._config.timeout)
            return
        # The server is gone: stop asyncua's watchdog tasks, then drop the socket.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.close_session(), self._config.timeout)
        with contextlib.suppress(Exception):
            client.disconnect_socket()
