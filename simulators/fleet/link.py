"""A trailer's cellular link: a gate in front of its MQTT sink that a dead zone closes.

Going offline stops the sink's MQTT client (the connection really drops); while offline ``send``
raises :class:`~edge_agent.errors.Retryable` at once, so the forwarder keeps the batch in the
spool and backs off, exactly as when the network is gone. Coming back starts the client again
(with the sink's own connect jitter and backoff). The pipeline before the spool never notices.
"""

from __future__ import annotations

import asyncio
from typing import Self

from edge_agent.envelope import Batch
from edge_agent.errors import Retryable
from edge_agent.publish.mqtt import MqttSink


class CellularLink:
    """A :class:`~edge_agent.interfaces.Sink` around an :class:`MqttSink` that can lose coverage."""

    def __init__(self, sink: MqttSink) -> None:
        self.sink = sink
        self.counters = sink.counters
        self.online = True
        self._started = False
        self._switching = asyncio.Lock()

    async def __aenter__(self) -> Self:
        self._started = True
        if self.online:
            await self.sink.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        async with self._switching:
            if self._started and self.online:
                await self.sink.__aexit__(None, None, None)
            self._started = False

    @property
    def connected(self) -> bool:
        return self.online and self.sink.connected

    async def go_offline(self) -> None:
        """Enter a dead zone: drop the connection and refuse sends until :meth:`go_online`."""
        async with self._switching:
            if not self.online:
                return
            self.online = False
            self.counters.inc("dead_zones")
            if self._started:
                await self.sink.__aexit__(None, None, None)

    async def go_online(self) -> None:
        """Leave the dead zone: the sink connects again."""
        async with self._switching:
            if self.online:
                return
            self.online = True
            if self._started:
                await self.sink.__aenter__()

    async def send(self, batch: Batch) -> None:
        if not self.online:
            raise Retryable("no coverage (dead zone)")
        await self.sink.send(batch)
