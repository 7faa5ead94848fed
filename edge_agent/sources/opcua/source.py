"""``OpcUaSource``: an OPC-UA server as a :class:`~edge_agent.interfaces.Source`.

Subscribed points arrive as data-change notifications, polled points through one Read request
per ``poll_interval``. The source owns reconnection: when the server goes away (closed socket,
or no answer to the session watchdog within ``watchdog_interval``) it marks every point bad with
``BadNoCommunication``, reconnects with exponential backoff and full jitter, re-creates the
subscription, re-reads every subscribed node once, and counts what the outage cost in ``gaps``.

``gaps`` counts point-intervals missed during outages: when data flows again after a lost
connection, each point adds ``floor(outage / interval)``, where ``outage`` runs from the moment
the loss was detected to the end of the re-read, and ``interval`` is ``poll_interval`` for
polled points (cycles that could not run) and ``sampling_interval`` for subscribed points (server
samples the agent could not receive; an upper bound, since unchanged values are not reported).
A failed first connection is not an outage: there was no stream to interrupt.

Subscribed points carry the server's source time; polled points the time of the poll (one
time per cycle). Samples repeated across a reconnect are dropped (see
:class:`~edge_agent.sources.opcua.handover.RepeatFilter`).

Counters: ``notifications`` (data changes received), ``reads`` (Read service calls),
``bad_status`` (readings with a Bad status from the server or an unresolved node),
``reconnects``, ``queue_drops`` (readings dropped because ``scans()`` fell ``buffer`` scans
behind), ``gaps``, ``duplicates`` (repeated samples dropped), ``overruns`` (poll cycles skipped),
``connect_errors``; gauges ``connected`` (1 or 0) and ``last_outage_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Sequence
from typing import Self

from asyncua.ua.uaerrors import UaError, UaStatusCodeError

from edge_agent.backoff import Backoff
from edge_agent.envelope import Quality, Reading
from edge_agent.errors import EdgeferryError
from edge_agent.metrics import Counters
from edge_agent.sources.opcua.config import OpcUaDevice
from edge_agent.sources.opcua.handover import RepeatFilter, ScanQueue
from edge_agent.sources.opcua.session import ConnectionLost, OpcUaSession
from edge_agent.sources.opcua.status import NO_COMMUNICATION, status_name
from edge_agent.sources.opcua.targets import expand_points
from edge_agent.sources.opcua.trust import ServerNotTrusted
from edge_agent.sources.opcua.values import bad_reading, now_ms

logger = logging.getLogger(__name__)


class OpcUaSource:
    """Readings of one OPC-UA server; see the module docstring for reconnects and counters."""

    def __init__(self, config: OpcUaDevice) -> None:
        self.name = config.name
        self.counters = Counters()
        self._config = config
        self._targets = expand_points(config.points)
        self._queue = ScanQueue(config.buffer, self.counters)
        self._repeats = RepeatFilter(self.counters)
        self._backoff = Backoff(config.reconnect_min, config.reconnect_max)
        self._task: asyncio.Task[None] | None = None
        self._connected_before = False
        self._outage_since: float | None = None
        self._marked_bad = False

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run(), name=f"opcua:{self.name}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._queue.close()

    def scans(self) -> AsyncIterator[Sequence[Reading]]:
        """One scan per poll cycle, per batch of data-change notifications, per re-read, and one of
        bad readings when the connection is lost; ends after the source is closed."""
        return self._queue.scans()

    async def _run(self) -> None:
        while True:
            try:
                async with self._session() as session:
                    self._on_connected()
                    await session.start()
                    self._on_resumed()
                    await session.run()
            except ConnectionLost:
                logger.warning("opcua_connection_lost", extra={
                    "device": self.name, "endpoint": self._config.endpoint})
                code = NO_COMMUNICATION
            except (OSError, TimeoutError, ConnectionError, UaError, EdgeferryError) as exc:
                code = exc.code if isinstance(exc, UaStatusCodeError | ServerNotTrusted) else NO_COMMUNICATION
                self._on_connect_error(exc, code)
            except Exception:
                logger.exception("opcua_session_failed", extra={"device": self.name})
                code = NO_COMMUNICATION
                self.counters.inc("connect_errors")
            self._mark_bad(code)
            await asyncio.sleep(self._backoff.next())

    def _session(self) -> OpcUaSession:
        return OpcUaSession(self._config, self._targets, self.counters, offer=self._offer_sampled,
                            put_sampled=self._put_sampled, put_polled=self._put_polled)

    def _offer_sampled(self, scan: list[Reading]) -> None:
        self._queue.offer(self._count_bad(self._repeats.fresh(scan)))

    async def _put_sampled(self, scan: list[Reading]) -> None:
        await self._queue.put(self._count_bad(self._repeats.fresh(scan)))

    async def _put_polled(self, scan: list[Reading]) -> None:
        await self._queue.put(self._count_bad(scan))

    def _count_bad(self, scan: list[Reading]) -> list[Reading]:
        bad = sum(1 for r in scan if r.q is Quality.BAD)
        if bad:
            self.counters.inc("bad_status", bad)
        return scan

    def _on_connected(self) -> None:
        logger.info("opcua_connected", extra={"device": self.name, "endpoint": self._config.endpoint})
        self.counters.set("connected", 1)
        if self._connected_before:
            self.counters.inc("reconnects")
        self._connected_before = True
        self._repeats.new_session()

    def _on_resumed(self) -> None:
        """Data flows again: close the outage, if any, and count its gaps. The backoff starts over
        only now, so a server that accepts connections but fails every session is not hammered."""
        self._marked_bad = False
        self._backoff.reset()
        if self._outage_since is None:
            return
        outage = time.monotonic() - self._outage_since
        self._outage_since = None
        missed = sum(math.floor(outage / self._interval_of(t.sampling)) for t in self._targets)
        self.counters.inc("gaps", missed)
        self.counters.set("last_outage_s", round(outage, 3))
        logger.info("opcua_resumed", extra={"device": self.name, "outage_s": round(outage, 3),
                                            "gaps": missed})

    def _interval_of(self, sampling: str) -> float:
        return self._config.poll_interval if sampling == "poll" else self._config.sampling_interval

    def _on_connect_error(self, exc: BaseException, code: int) -> None:
        self.counters.inc("connect_errors")
        level = logging.DEBUG if self._marked_bad else logging.ERROR  # once per outage; retries are counted
        logger.log(level, "opcua_connect_failed", extra={
            "device": self.name, "endpoint": self._config.endpoint, "status": status_name(code),
            "reason": str(exc) or type(exc).__name__})

    def _mark_bad(self, code: int) -> None:
        """Once per outage: every point gets a bad reading with ``code``, so that consumers see
        the values are unknown from now on rather than silently stale."""
        self.counters.set("connected", 0)
        if self._connected_before and self._outage_since is None:
            self._outage_since = time.monotonic()
        if self._marked_bad:
            return
        self._marked_bad = True
        t = now_ms()
        self._queue.offer([bad_reading(self.name, target, code, t) for target in self._targets])
