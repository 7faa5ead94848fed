"""A processor worker: reads its partitions, processes them, checkpoints, then notifies.

For each partition it owns, a worker repeats: read the records after the checkpointed position,
run them through the :class:`PartitionProcessor` (plus, live, a clock tick and the operators'
pending alarm commands), write the closed windows to the time-series store (idempotent), commit
state + position + outbox in one transaction, and deliver the outbox. A crash anywhere replays
from the last commit: state and position move together, so no alarm is lost or raised twice.

Alone, a worker owns every partition. In a consumer group (``group=True``) workers share the
partitions through leases in the checkpoint database (see :mod:`cloud.processors.group`); a
worker that dies stops renewing, and the others take its partitions over from its checkpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from dataclasses import dataclass, field

from cloud.processors.actions import Action
from cloud.processors.alarms import Command
from cloud.processors.anomaly import score_records
from cloud.processors.checkpoint import Checkpoint, LeaseLost
from cloud.processors.group import Membership
from cloud.processors.model import ProcessorConfig
from cloud.processors.notify import Notifier
from cloud.processors.partition import PartitionProcessor, Step
from cloud.processors.sources import PartitionedSource
from cloud.processors.windows import window_records
from cloud.stores.timeseries import TimeseriesStore
from cloud.stream.log import shard_for

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class WorkerStats:
    records: int = 0
    windows: int = 0
    late: int = 0
    undecodable: int = 0
    alarms_raised: int = 0
    notifications: int = 0
    failed_notifications: int = 0
    partitions: set[int] = field(default_factory=set)


class Worker:
    """Runs the processors of ``config`` on ``source`` until :meth:`run`'s ``stop`` is set."""

    def __init__(self, config: ProcessorConfig, source: PartitionedSource, checkpoint: Checkpoint, *,
                 notifier: Notifier | None = None, timeseries: TimeseriesStore | None = None,
                 group: bool = False, member: str | None = None, batch: int = 500,
                 poll_interval: float = 0.1, lease_ttl: float = 5.0) -> None:
        self.config = config
        self.source = source
        self.checkpoint = checkpoint
        self.notifier = notifier or Notifier()
        self.timeseries = timeseries
        self.batch = batch
        self.poll_interval = poll_interval
        self.member = member or f"{os.uname().nodename}-{os.getpid()}"
        self.membership = Membership(checkpoint.db, self.member, source.partitions, lease_ttl) if group else None
        self.stats = WorkerStats()
        self._owned: dict[int, tuple[PartitionProcessor, int]] = {}

    async def run(self, stop: asyncio.Event) -> None:
        next_beat = 0.0
        while not stop.is_set():
            if time.monotonic() >= next_beat:
                await self._rebalance()
                next_beat = time.monotonic() + (self.membership.ttl / 3 if self.membership else 3600.0)
            busy = False
            for part in sorted(self._owned):
                try:
                    busy |= await self._step(part)
                except LeaseLost as exc:
                    logger.info("processor_partition_lost", extra={"partition": part, "reason": str(exc)})
                    self._owned.pop(part, None)
            if not busy:
                # the embedded log is written by another process: nothing to wait on but time
                await _sleep_or(stop, self.poll_interval)
        if self.membership is not None:
            await asyncio.to_thread(self.membership.leave)

    async def drain(self) -> None:
        """Process what the source holds now, then return (a batch job, a Lambda invocation)."""
        await self._rebalance()
        busy = True
        while busy:
            busy = False
            for part in sorted(self._owned):
                busy |= await self._step(part)

    def position(self, part: int) -> int | None:
        """The checkpointed position of an owned partition."""
        held = self._owned.get(part)
        return None if held is None else held[1]

    async def _rebalance(self) -> None:
        owned = (set(range(self.source.partitions)) if self.membership is None
                 else await asyncio.to_thread(self.membership.beat))
        for part in set(self._owned) - owned:
            del self._owned[part]
        for part in sorted(owned - set(self._owned)):
            processor = PartitionProcessor(self.config, part)
            position = await asyncio.to_thread(self.checkpoint.load, processor)
            self._owned[part] = (processor, position)
            await self._deliver(part)  # what a previous owner committed but did not send
        self.stats.partitions = set(self._owned)

    async def _step(self, part: int) -> bool:
        processor, position = self._owned[part]
        chunk = await self.source.read(part, position, self.batch)
        step = processor.process(chunk.payloads)
        if self.config.clock == "wall":
            step.extend(processor.tick(int((time.time() - self.config.wall_clock_lag) * 1000)))
        applied = await self._commands(processor, step)
        if chunk.position == position and not step and not applied:
            return False
        if self.timeseries is not None and (step.windows or step.scores):
            for record in (*window_records(step.windows), *score_records(step.scores)):
                await self.timeseries.write(record)
        owner = self.member if self.membership is not None else None
        await asyncio.to_thread(self.checkpoint.save, processor, chunk.position, step, owner=owner,
                                commands=applied)
        self._owned[part] = (processor, chunk.position)
        self._count(len(chunk.payloads), step)
        if step.notifications:
            await self._deliver(part)
        return bool(chunk.payloads)

    async def _commands(self, processor: PartitionProcessor, step: Step) -> tuple[int, ...]:
        pending = await asyncio.to_thread(self.checkpoint.commands)
        applied = []
        for c in pending:
            if shard_for(c.key, self.source.partitions) != processor.partition:
                continue
            if c.model in processor.detectors:
                step.extend(processor.command(c.model, c.alarm, c.key, Command(c.command),
                                              max(c.issued, processor.clock), c.snooze_ms))
            applied.append(c.id)
        return tuple(applied)

    async def _deliver(self, part: int) -> None:
        done = []
        for nid, action, payload in await asyncio.to_thread(self.checkpoint.pending, part):
            try:
                await self.notifier.deliver(Action.model_validate_json(action), json.loads(payload))
            except Exception as exc:  # one target down must not stop the others; retried next time
                self.stats.failed_notifications += 1
                logger.warning("processor_notification_failed", extra={"id": nid, "error": str(exc)})
                continue
            done.append(nid)
        if done:
            await asyncio.to_thread(self.checkpoint.delivered, done)
            self.stats.notifications += len(done)

    def _count(self, records: int, step: Step) -> None:
        s = self.stats
        s.records += records
        s.windows += len(step.windows)
        s.late += len(step.late)
        s.undecodable += len(step.undecodable)
        s.alarms_raised += sum(1 for c in step.changes if c.notifies)


async def _sleep_or(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
