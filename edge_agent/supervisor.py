"""One agent: sources -> aggregator -> spool -> forwarder -> sink, under one TaskGroup.

Shutdown keeps the promise that nothing acknowledged is lost: stop the sources, drain what they
already produced into the aggregator, flush the aggregator into the spool, then stop forwarding
(a batch in flight is requeued) and close the sink and the spool.

:meth:`Agent.reconfigure` applies a new configuration live (the Greengrass component calls it on
a configuration update): devices are started, stopped or restarted by difference, the
aggregator is flushed into the spool and rebuilt, and the sink is swapped if publishing changed.
The spool stays open throughout, so no spooled batch is lost or sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import replace
from typing import Any

from edge_agent.aggregate import Aggregator
from edge_agent.backoff import Backoff
from edge_agent.config import AgentConfig, DeviceConfig
from edge_agent.downlink import Downlink
from edge_agent.envelope import MAX_PAYLOAD_BYTES, Batch, Reading, metering_units
from edge_agent.errors import ConfigError, SpoolFull
from edge_agent.forwarder import Forwarder
from edge_agent.interfaces import Component, Sink, Source, Spool, SpoolStats
from edge_agent.metrics import Counters
from edge_agent.services import configured_sections, service_factory
from edge_agent.status import AgentStatus, HealthFile, running_version

log = logging.getLogger(__name__)

Scan = Sequence[Reading]
SinkFactory = Callable[[AgentConfig], Sink]
LIVE_FIXED_FIELDS = ("thing", "site", "asset_type", "spool", "identity")
"""Settings that name the spool or the identity: changing them needs a restart."""


class Agent:
    """The edge pipeline for one thing.

    ``sink_factory`` builds the sink for a config (the caller owns identity and provisioning);
    ``source_factory`` builds a source from a device config (``DeviceConfig.build`` by default).
    """

    def __init__(self, config: AgentConfig, *, spool: Spool, sink_factory: SinkFactory,
                 source_factory: Callable[[DeviceConfig], Source] | None = None,
                 queue_size: int = 64) -> None:
        self.config = config
        self.spool = spool
        self.sink_factory = sink_factory
        self.source_factory = source_factory or (lambda device: device.build())
        self.counters = Counters()
        self.sink: Sink = sink_factory(config)
        self.forwarder = self._make_forwarder(config, spool, self.sink)
        self.aggregator: Aggregator | None = None
        self.sources: dict[str, Source] = {}
        self.downlink = Downlink()
        """Messages down to the agent and replies up, over the sink's connection."""
        self.services: dict[str, Component] = {}
        """Running device services (commands, shadow, jobs, ...) by config section name."""
        self._service_sections: dict[str, Any] = {}
        self.running = asyncio.Event()
        self._device_configs: dict[str, DeviceConfig] = {}
        self._source_tasks: dict[str, asyncio.Task[None]] = {}
        self._scans: asyncio.Queue[Scan] = asyncio.Queue(maxsize=queue_size)
        self._aggregator_lock = asyncio.Lock()
        self._group: asyncio.TaskGroup | None = None
        self._forwarding: asyncio.Task[None] | None = None
        self._started = time.monotonic()
        self.final_spool_stats: dict[str, Any] = {}
        """The spool's stats as it closed (``status()`` reports them once the agent stopped)."""

    @classmethod
    def from_config(cls, config: AgentConfig, sink_factory: SinkFactory) -> Agent:
        return cls(config, spool=config.spool.build(), sink_factory=sink_factory)

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set, then shut down in order (see module docstring)."""
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(self.spool)
            await stack.enter_async_context(self.downlink)
            stack.push_async_callback(self._stop_services)
            self.aggregator = self._make_aggregator(self.config)
            try:
                async with asyncio.TaskGroup() as group:
                    self._group = group
                    await self._start_sink(self.sink)
                    await self._apply_services(self.config)
                    health = group.create_task(self._write_health(), name="health")
                    for device in self.config.devices:
                        self._start_source(device)
                    aggregating = group.create_task(self._aggregate(), name="aggregate")
                    self.running.set()
                    log.info("agent_started", extra={
                        "thing": self.config.thing, "version": running_version(),
                        "devices": len(self.config.devices),
                        "epoch": self.spool.epoch, "next_seq": self.spool.last_seq + 1})
                    await stop.wait()
                    grace = self.config.status.shutdown_grace
                    deadline = time.monotonic() + grace
                    log.info("agent_stopping", extra={"thing": self.config.thing, "grace": f"{grace:g}s"})
                    await asyncio.gather(*(self._stop_source(n, forget=False)
                                           for n in list(self._source_tasks)))
                    await self._scans.put(())  # end marker: drain, flush, return
                    await aggregating
                    await self._drain(deadline - min(1.0, grace / 5))  # the rest: closing the sink
                    await self._stop_services()
                    await self._stop_sink(within=max(0.2, deadline - time.monotonic()))
                    health.cancel()
            finally:
                self._group = None
                self.running.clear()
                self.final_spool_stats = _stats_dict(self.spool)
        self._write_health_once()
        unsent = int(self.final_spool_stats.get("depth", 0)) + int(self.final_spool_stats.get("in_flight", 0))
        if unsent:
            log.info("agent_stopped", extra={"thing": self.config.thing, "unsent": unsent,
                                             "note": "unsent batches stay in the spool and go out "
                                                     "at the next start"})
        else:
            log.info("agent_stopped", extra={"thing": self.config.thing, "unsent": 0})

    async def reconfigure(self, config: AgentConfig) -> None:
        """Apply ``config`` live; raise :class:`ConfigError` (and change nothing) if it cannot be."""
        fixed = [f for f in LIVE_FIXED_FIELDS if getattr(config, f) != getattr(self.config, f)]
        if fixed:
            raise ConfigError("configuration update", [
                f"{f}: cannot change while running (restart the agent to apply)" for f in fixed])
        new_sink = self.sink_factory(config) if config.publish != self.config.publish else None
        self.config = config
        wanted = {d.name: d for d in config.devices}
        for name in [n for n in self._device_configs if wanted.get(n) != self._device_configs[n]]:
            await self._stop_source(name)
        async with self._aggregator_lock:
            if self.aggregator is not None:
                await self._store(self.aggregator.flush(time.monotonic()))
            self.aggregator = self._make_aggregator(config)
        if new_sink is not None:
            await self._stop_sink()
            self.sink = new_sink
            self.forwarder = self._make_forwarder(config, self.spool, self.sink)
            await self._start_sink(self.sink)
        for name, device in wanted.items():
            if name not in self._source_tasks:
                self._start_source(device)
        await self._apply_services(config)
        log.info("agent_reconfigured", extra={"devices": len(wanted)})

    # -- parts -------------------------------------------------------------------------------

    def _make_aggregator(self, config: AgentConfig) -> Aggregator:
        return Aggregator.from_config(config, epoch=self.spool.epoch, next_seq=self.spool.last_seq + 1)

    @staticmethod
    def _make_forwarder(config: AgentConfig, spool: Spool, sink: Sink) -> Forwarder:
        window = getattr(config.publish, "max_in_flight", 1)
        return Forwarder(spool, sink, window=window)

    def _start_source(self, device: DeviceConfig) -> None:
        assert self._group is not None
        self._device_configs[device.name] = device
        self._source_tasks[device.name] = self._group.create_task(
            self._run_source(device), name=f"source-{device.name}")

    async def _stop_source(self, name: str, *, forget: bool = True) -> None:
        """Stop a source; ``forget`` also drops its counters from the status."""
        task = self._source_tasks.pop(name)
        self._device_configs.pop(name, None)
        # Cancel until it is done: Python 3.11's asyncio.wait_for, which client libraries use per
        # request, drops a cancellation that arrives just as the request completes.
        while not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=1.0)
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if forget:
            self.sources.pop(name, None)

    async def _drain(self, deadline: float) -> None:
        """At shutdown, give the forwarder until ``deadline`` (monotonic) to empty the spool."""
        # Bounded, shutdown-only wait; the spool offers no "empty" event to wait on.
        while time.monotonic() < deadline and _unsent(_stats_dict(self.spool)):  # noqa: ASYNC110
            await asyncio.sleep(0.05)

    async def _run_source(self, device: DeviceConfig) -> None:
        """Run one source; a source that fails is restarted with backoff, never stalling others."""
        backoff = Backoff(1.0, 60.0)
        while True:
            source = self.source_factory(device)
            self.sources[device.name] = source
            try:
                async with source:
                    async for scan in source.scans():
                        if scan:
                            await self._scans.put(scan)
                return
            except Exception:
                self.counters.inc("source_failures")
                delay = backoff.next()
                log.exception("source_failed", extra={"device": device.name,
                                                      "restart_in": round(delay, 1)})
                await asyncio.sleep(delay)

    async def _start_sink(self, sink: Sink) -> None:
        assert self._group is not None
        self.downlink.bind(sink)
        await sink.__aenter__()
        self._forwarding = self._group.create_task(self.forwarder.run(), name="forwarder")

    async def _apply_services(self, config: AgentConfig) -> None:
        """Start, stop or rebuild device services by difference with ``config``."""
        wanted = configured_sections(config)
        for name in [n for n in self.services if wanted.get(n) != self._service_sections.get(n)]:
            await self._stop_service(name)
        for name, section in wanted.items():
            if name not in self.services:
                service = service_factory(name)(self, section)
                await service.__aenter__()
                self.services[name], self._service_sections[name] = service, section

    async def _stop_service(self, name: str) -> None:
        service = self.services.pop(name)
        self._service_sections.pop(name, None)
        try:
            await service.__aexit__(None, None, None)
        except Exception:
            log.exception("service_stop_failed", extra={"service": name})

    async def _stop_services(self) -> None:
        for name in reversed(list(self.services)):
            await self._stop_service(name)

    async def _stop_sink(self, within: float | None = None) -> None:
        """Stop forwarding (a batch in flight goes back to the spool) and close the sink, giving
        the sink at most ``within`` seconds to close (at shutdown: what is left of the grace)."""
        if self._forwarding is not None:
            self._forwarding.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._forwarding
            self._forwarding = None
        self.downlink.bind(None)
        try:
            async with asyncio.timeout(within):
                await self.sink.__aexit__(None, None, None)
        except TimeoutError:
            log.info("sink_close_timeout", extra={"thing": self.config.thing, "within": f"{within:.1f}s"})

    async def _aggregate(self) -> None:
        while True:
            deadline = self.aggregator.next_deadline() if self.aggregator else None
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                scan = await asyncio.wait_for(self._scans.get(), timeout)
            except TimeoutError:
                scan = None
            async with self._aggregator_lock:
                aggregator = self.aggregator
                assert aggregator is not None
                now = time.monotonic()
                if scan is None:
                    await self._store(aggregator.tick(now))
                    continue
                if not scan:
                    await self._store(aggregator.flush(now))
                    return
                self.counters.inc("readings", len(scan))
                self.counters.inc("bad_readings", sum(1 for r in scan if r.q))
                await self._store(aggregator.add(scan, now))
                await self._store(aggregator.tick(now))

    async def _store(self, batches: list[Batch]) -> None:
        for batch in batches:
            try:
                await self.spool.put(_declare_dropped(batch, self.spool.stats()))
            except SpoolFull:
                self.counters.inc("batches_refused_full")  # the spool counts and logs it (rate-limited)
                continue
            self.counters.inc("batches_spooled")

    # -- status ------------------------------------------------------------------------------

    def status(self) -> AgentStatus:
        """A snapshot of every component's counters."""
        parts: dict[str, dict[str, Any]] = {
            "agent": self.counters.snapshot(),
            "forwarder": self.forwarder.counters.snapshot(),
            "sink": self.sink.counters.snapshot(),
            "spool": {**self.spool.counters.snapshot(), **(_stats_dict(self.spool) or self.final_spool_stats)},
        }
        if self.aggregator is not None:
            parts["aggregator"] = self.aggregator.counters.snapshot()
        if self.services:
            parts["downlink"] = self.downlink.counters.snapshot()
        for name, service in self.services.items():
            parts[f"service.{name}"] = service.counters.snapshot()
        for name, source in self.sources.items():
            parts[f"source.{name}"] = source.counters.snapshot()
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


def _declare_dropped(batch: Batch, stats: SpoolStats) -> Batch:
    """The batch carrying the count of batches its device dropped or had refused so far, so the
    cloud can tell a gap it will never fill from one still on its way (DESIGN.md, Batch). Left out
    when it would make the batch cost another metering unit: the next batch carries it."""
    dropped = stats.dropped + stats.rejected
    if not dropped:
        return batch
    declared = replace(batch, dropped=dropped)
    size, before = len(declared.encode()), len(batch.encode())
    if size > MAX_PAYLOAD_BYTES or metering_units(size) > metering_units(before):
        return batch
    return declared


def _stats_dict(spool: Spool) -> dict[str, Any]:
    try:
        stats = spool.stats()
        identity = {"epoch": spool.epoch, "last_seq": spool.last_seq}
    except Exception:  # a closed spool has no stats; status must never fail
        return {}
    return {**identity, **{k: getattr(stats, k) for k in ("depth", "in_flight", "bytes", "oldest_age",
                                                          "dropped", "disk_full", "rejected", "last_acked_seq")
                                   if hasattr(stats, k)}}


def _unsent(stats: dict[str, Any]) -> bool:
    """Batches still in the spool or taken and not yet acknowledged."""
    return bool(stats.get("depth", 0) or stats.get("in_flight", 0))
