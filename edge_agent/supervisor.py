"""One agent: sources -> aggregator -> spool -> forwarder -> sink, under one TaskGroup.

Shutdown order keeps the promise that nothing acknowledged is lost: stop the sources, drain
what they already produced into the aggregator, flush the aggregator into the spool, then stop
forwarding (a batch in flight is requeued) and close the sink and the spool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from typing import Any

from edge_agent.aggregate import Aggregator
from edge_agent.config import AgentConfig
from edge_agent.envelope import Batch, Reading
from edge_agent.errors import SpoolFull
from edge_agent.forwarder import Forwarder
from edge_agent.interfaces import Sink, Source, Spool
from edge_agent.metrics import Counters
from edge_agent.status import AgentStatus, HealthFile

log = logging.getLogger(__name__)

Scan = Sequence[Reading]


class Agent:
    """The edge pipeline for one thing. Build it with :meth:`from_config` or inject parts."""

    def __init__(self, config: AgentConfig, *, sources: Sequence[Source], spool: Spool, sink: Sink,
                 queue_size: int = 64) -> None:
        self.config = config
        self.sources = list(sources)
        self.spool = spool
        self.sink = sink
        self.counters = Counters()
        self._scans: asyncio.Queue[Scan] = asyncio.Queue(maxsize=queue_size)
        self._window = getattr(config.publish, "max_in_flight", 1)
        self.forwarder = Forwarder(spool, sink, window=self._window)
        self.aggregator: Aggregator | None = None
        self._started = time.monotonic()
        self.running = asyncio.Event()

    @classmethod
    def from_config(cls, config: AgentConfig, sink: Sink) -> Agent:
        """Build sources and spool from config; the sink comes from the caller, which owns identity."""
        return cls(config, sources=[d.build() for d in config.devices], spool=config.spool.build(),
                   sink=sink)

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set, then shut down in order (see module docstring)."""
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(self.spool)
            await stack.enter_async_context(self.sink)
            for source in self.sources:
                await stack.enter_async_context(source)
            self.aggregator = Aggregator.from_config(self.config, epoch=self.spool.epoch,
                                                     next_seq=self.spool.last_seq + 1)
            async with asyncio.TaskGroup() as group:
                forwarding = group.create_task(self.forwarder.run(), name="forwarder")
                health = group.create_task(self._write_health(), name="health")
                polling = [group.create_task(self._poll(s), name=f"source-{s.name}")
                           for s in self.sources]
                aggregating = group.create_task(self._aggregate(self.aggregator), name="aggregate")
                self.running.set()
                log.info("agent_started", extra={"thing": self.config.thing,
                                                 "devices": len(self.sources),
                                                 "epoch": self.spool.epoch,
                                                 "next_seq": self.spool.last_seq + 1})
                await stop.wait()
                for task in polling:
                    task.cancel()
                await asyncio.gather(*polling, return_exceptions=True)
                await self._scans.put(())  # end marker: drain and flush
                await aggregating
                forwarding.cancel()
                health.cancel()
        self._write_health_once()
        log.info("agent_stopped", extra={"thing": self.config.thing})

    async def _poll(self, source: Source) -> None:
        async for scan in source.scans():
            if scan:
                await self._scans.put(scan)

    async def _aggregate(self, aggregator: Aggregator) -> None:
        loop = asyncio.get_running_loop()
        while True:
            deadline = aggregator.next_deadline()
            timeout = None if deadline is None else max(0.0, deadline - loop.time())
            try:
                scan = await asyncio.wait_for(self._scans.get(), timeout)
            except TimeoutError:
                await self._store(aggregator.tick(loop.time()))
                continue
            if not scan:
                await self._store(aggregator.flush(loop.time()))
                return
            self.counters.inc("readings", len(scan))
            self.counters.inc("bad_readings", sum(1 for r in scan if r.q))
            await self._store(aggregator.add(scan, loop.time()))
            await self._store(aggregator.tick(loop.time()))

    async def _store(self, batches: list[Batch]) -> None:
        for batch in batches:
            try:
                await self.spool.put(batch)
            except SpoolFull as exc:
                self.counters.inc("batches_refused_full")
                log.warning("batch_refused_spool_full", extra={"seq": batch.seq, "error": str(exc)})
                continue
            self.counters.inc("batches_spooled")

    def status(self) -> AgentStatus:
        """A snapshot of every component's counters."""
        parts: dict[str, dict[str, Any]] = {
            "agent": self.counters.snapshot(),
            "forwarder": self.forwarder.counters.snapshot(),
            "sink": self.sink.counters.snapshot(),
            "spool": {**self.spool.counters.snapshot(), **_stats_dict(self.spool)},
        }
        if self.aggregator is not None:
            parts["aggregator"] = self.aggregator.counters.snapshot()
        for source in self.sources:
            parts[f"source.{source.name}"] = source.counters.snapshot()
        return AgentStatus(thing=self.config.thing, uptime=time.monotonic() - self._started,
                           parts=parts)

    async def _write_health(self) -> None:
        while True:
            await asyncio.sleep(self.config.status.interval)
            self._write_health_once()

    def _write_health_once(self) -> None:
        if self.config.status.health_file is not None:
            with contextlib.suppress(OSError):
                HealthFile(self.config.status.health_file).write(self.status())


def _stats_dict(spool: Spool) -> dict[str, Any]:
    try:
        stats = spool.stats()
    except Exception:  # a closed spool has no stats; status must never fail
        return {}
    return {k: getattr(stats, k) for k in ("depth", "bytes", "oldest_age", "dropped",
                                           "last_acked_seq") if hasattr(stats, k)}
