"""A fleet of simulated reefer trailers in one process, against the local IoT Core rig.

Each trailer is a real edge agent (see :mod:`simulators.fleet.trailer`); the fleet shares what is
cheaper shared: one clock for every controller's scans, a few SQLite worker threads for every
spool, one loop for every dead zone. It connects the trailers at a pace the broker can take,
drives dead zones and the broker storm, samples its vital signs, and at the end proves from the
spool files and the cloud ledger that nothing was lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from cloud.rig import Rig
from cloud.rules.mqtt_attach import MqttAttachment
from edge_agent.errors import EdgeferryError
from edge_agent.publish.config import MqttPublishConfig
from simulators.fleet.accounting import FleetAccount, account
from simulators.fleet.clock import FleetClock
from simulators.fleet.config import FleetConfig
from simulators.fleet.control import Control
from simulators.fleet.identities import fleet_identities
from simulators.fleet.ledger import CLIENT_ID, Ledger
from simulators.fleet.limits import raise_open_file_limit, trust_only
from simulators.fleet.monitor import FleetSample, Monitor
from simulators.fleet.report import FleetReport, StartReport
from simulators.fleet.schedule import LinkEvent, dead_zone_events
from simulators.fleet.storm import Recovery, broker_outage, watch_recovery
from simulators.fleet.trailer import Trailer, TrailerSettings, fleet_agent_config
from simulators.fleet.workers import SpoolWorkers

logger = logging.getLogger(__name__)

CONNECT_WAIT = 30.0
"""How long one trailer may hold a connection slot at start before the next one goes anyway."""
SETTLE = 2.0
"""Quiet time before the end of the run in which no dead zone starts, so the fleet ends online."""

SampleHook = Callable[[FleetSample], None]


class Fleet:
    """Runs ``config`` with :meth:`run`; ``on_sample`` sees each sample (the live dashboard)."""

    def __init__(self, config: FleetConfig, *, on_sample: SampleHook | None = None,
                 control: Control | None = None) -> None:
        self.config = config
        self.on_sample = on_sample
        self.control = control
        self.trailers: list[Trailer] = []
        self.ledger = Ledger()
        self.clock = FleetClock(config.report_every)
        self.monitor: Monitor | None = None
        self.recovery: Recovery | None = None
        self.link_events: list[LinkEvent] = []
        self._rig: Rig | None = None
        self._attachment: MqttAttachment | None = None

    @property
    def trailer_dir(self) -> Path:
        return self.config.directory / "trailers"

    async def run(self, stop: asyncio.Event | None = None) -> FleetReport:
        """Run the fleet for ``config.duration`` (or until ``stop`` is set) and report."""
        config = self.config
        stop = stop or asyncio.Event()
        config.directory.mkdir(parents=True, exist_ok=True)
        raise_open_file_limit(config.trailers)
        rig = self._rig = await asyncio.to_thread(self._open_rig)
        try:
            with trust_only(rig.ca_path, config.directory / ".no-system-ca"), \
                    SpoolWorkers(config.spool_workers) as workers:
                return await self._run(rig, workers, stop)
        finally:
            if config.broker_dir is None:
                await asyncio.to_thread(rig.stop)

    def _open_rig(self) -> Rig:
        config = self.config
        rig = Rig(config.rig_dir)
        if config.broker_dir is None:
            return rig.start()
        if not rig.is_running():
            raise EdgeferryError(f"no rig is running in {config.broker_dir} (start it with "
                                 f"edgeferry cloud up --dir {config.broker_dir})")
        return rig

    async def _run(self, rig: Rig, workers: SpoolWorkers, stop: asyncio.Event) -> FleetReport:
        config = self.config
        setup_started = time.monotonic()
        identities = await fleet_identities(config, rig, self.trailer_dir)
        identities_s = time.monotonic() - setup_started
        publish = MqttPublishConfig(
            endpoint=rig.host, port=rig.port, max_in_flight=config.max_in_flight,
            connect_jitter=config.connect_jitter, reconnect_min=config.reconnect_min,
            reconnect_max=config.reconnect_max)
        settings = TrailerSettings(site=config.site, report_every=config.report_every,
                                   batch_every=config.batch_every, batch_form=config.batch_form, publish=publish,
                                   shutdown_grace=config.drain_within, time_scale=config.time_scale)
        template = fleet_agent_config(settings)
        baseline_rss_mb = psutil.Process().memory_info().rss / 2**20
        rng = random.Random(config.seed + config.first)
        period = config.report_every
        self.trailers = [
            Trailer(i, identity, identity.cert_path.parent.parent, template, settings, self.clock,
                    workers.assign(), phase=(i / config.size) * period + rng.uniform(0, 0.1 * period))
            for i, identity in enumerate(identities, start=config.first)]
        self.ledger.only = frozenset(t.thing for t in self.trailers) if config.size > config.trailers else None
        await self._attach(rig)
        monitor = self.monitor = Monitor(self.trailers, self.clock, self.ledger)
        stopping = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []
        background: list[asyncio.Task[None]] = []
        try:
            background.append(asyncio.create_task(self.clock.run(), name="fleet-clock"))
            background.append(asyncio.create_task(self._sample_forever(), name="fleet-monitor"))
            started = monitor.elapsed()
            all_connected = await self._start(tasks, stopping)
            start = StartReport(identities_s=identities_s, connect_s=all_connected - started,
                                connected=sum(t.link.connected for t in self.trailers))
            logger.info("fleet_started", extra={"trailers": len(self.trailers), "seconds": start.connect_s})
            self._phase("run")
            if self.control is not None:
                self.control.send({"ready": True})
            await self._drive(rig, stop, monitor.elapsed())
            drained_s = await self._wind_down(stopping, tasks)
        finally:
            stopping.set()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await self._detach()
        monitor.sample()
        accounts = await asyncio.to_thread(lambda: [account(t, self.ledger) for t in self.trailers])
        return FleetReport.build(config, start, monitor.samples, FleetAccount.of(accounts), self.ledger,
                                 self.recovery, self.link_events, drained_s,
                                 connects=sum(t.link.counters.get("connects") for t in self.trailers),
                                 connect_failures=sum(t.link.counters.get("connect_failures")
                                                      for t in self.trailers),
                                 retried=sum(t.agent.forwarder.counters.get("retried") for t in self.trailers),
                                 baseline_rss_mb=baseline_rss_mb)

    # -- parts --------------------------------------------------------------------------------

    def _phase(self, name: str) -> None:
        """Label what follows in the samples and the ledger's arrival ages."""
        self.ledger.phase = name
        if self.monitor is not None:
            self.monitor.phase = name

    async def _attach(self, rig: Rig) -> None:
        self._attachment = self.ledger.attachment(rig, f"{CLIENT_ID}-{self.config.first}")
        await self._attachment.start()

    async def _detach(self) -> None:
        if self._attachment is not None:
            attachment, self._attachment = self._attachment, None
            await attachment.stop()

    async def _start(self, tasks: list[asyncio.Task[None]], stopping: asyncio.Event) -> float:
        """Start every trailer, at most ``connect_in_flight`` connecting at once; returns when all
        are connected (or gave up waiting), as seconds into the run."""
        slots = asyncio.Semaphore(self.config.connect_in_flight)
        connecting: list[asyncio.Task[None]] = []

        async def connect(trailer: Trailer) -> None:
            try:
                if await trailer.started():
                    trailer.note_start()
                    with contextlib.suppress(TimeoutError):
                        await trailer.link.sink.wait_connected(CONNECT_WAIT)
            finally:
                slots.release()

        for trailer in self.trailers:
            await slots.acquire()
            tasks.append(asyncio.create_task(trailer.run(stopping), name=f"trailer-{trailer.index}"))
            connecting.append(asyncio.create_task(connect(trailer)))
        await asyncio.gather(*connecting)
        assert self.monitor is not None
        return self.monitor.elapsed()

    async def _drive(self, rig: Rig, stop: asyncio.Event, began: float) -> None:
        """The run proper: dead zones and the storm until the duration is over or ``stop`` is set."""
        config = self.config
        assert self.monitor is not None
        elapsed = self.monitor.elapsed
        duration = config.duration
        until = (duration if duration is not None else 7 * 86400.0) - SETTLE
        if config.dead_zones is not None:
            self.link_events = dead_zone_events(config.dead_zones, len(self.trailers), until,
                                                seed=config.seed + config.first)
        jobs = [asyncio.create_task(self._dead_zones(began))]
        if self.control is not None:
            jobs.append(asyncio.create_task(self._obey(self.control, stop)))
        elif config.storm is not None:
            jobs.append(asyncio.create_task(self._storm(rig, began)))
        waiting: list[asyncio.Task[Any]] = [asyncio.create_task(stop.wait())]
        if duration is not None:
            waiting.append(asyncio.create_task(asyncio.sleep(max(0.0, began + duration - elapsed()))))
        try:
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for job in jobs + waiting:
                job.cancel()
            await asyncio.gather(*jobs, *waiting, return_exceptions=True)
            await asyncio.gather(*(t.link.go_online() for t in self.trailers))

    async def _dead_zones(self, began: float) -> None:
        assert self.monitor is not None
        for event in self.link_events:
            delay = began + event.at - self.monitor.elapsed()
            if delay > 0:
                await asyncio.sleep(delay)
            link = self.trailers[event.trailer].link
            await (link.go_online() if event.online else link.go_offline())

    async def _storm(self, rig: Rig, began: float) -> None:
        storm = self.config.storm
        assert storm is not None
        assert self.monitor is not None
        await asyncio.sleep(max(0.0, began + storm.at - self.monitor.elapsed()))
        logger.info("fleet_storm", extra={"down": storm.down})
        self._phase("storm")
        outage = await broker_outage(rig, storm.down)
        self.recovery = Recovery(returned_at=self.monitor.elapsed(), outage=outage)
        await self._recover(self.recovery)

    async def _obey(self, control: Control, stop: asyncio.Event) -> None:
        """Follow the storm of the process that runs the whole fleet (see :mod:`control`)."""
        assert self.monitor is not None
        watching: asyncio.Task[None] | None = None
        try:
            while (command := await control.command()) != "stop":
                if command == "storm":
                    self._phase("storm")
                elif command == "returned":
                    self.recovery = Recovery(returned_at=self.monitor.elapsed())
                    watching = asyncio.create_task(self._recover(self.recovery))
            stop.set()
        finally:
            if watching is not None:
                watching.cancel()

    async def _recover(self, recovery: Recovery) -> None:
        assert self.monitor is not None
        await watch_recovery(self.trailers, recovery, self.monitor.elapsed, within=self.config.drain_within)
        self._phase("run")

    async def _wind_down(self, stopping: asyncio.Event, tasks: list[asyncio.Task[None]]) -> float | None:
        """Stop the controllers, let the spools drain, stop the agents (each flushes its last
        bundle and sends it), and wait until the ledger has every batch. Returns how long the
        final drain took, or None if it did not finish within ``drain_within``."""
        assert self.monitor is not None
        self._phase("end")
        began = self.monitor.elapsed()
        stopping.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        # a PUBACK means the broker took the batch: the ledger gets it soon after
        acked = sum(t.spool.counters.get("acked") for t in self.trailers)
        await self.ledger.wait_for(acked, began + self.config.drain_within - self.monitor.elapsed())
        pending = sum(t.spool.stats().depth for t in self.trailers)
        return self.monitor.elapsed() - began if pending == 0 and self.ledger.received >= acked else None

    async def _sample_forever(self) -> None:
        assert self.monitor is not None
        while True:
            await asyncio.sleep(self.config.sample_every)
            sample = self.monitor.sample()
            if self.on_sample is not None:
                self.on_sample(sample)
