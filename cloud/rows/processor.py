"""The rows processor: reads a stream, explodes each batch, writes its sinks.

Locally it consumes the embedded stream from its checkpoint (at-least-once; every sink is
idempotent on the batch key). On AWS the same :meth:`RowsProcessor.handle` runs in the Lambda
function the Kinesis stream triggers (:mod:`cloud.rows.aws_lambda`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from typing import Protocol

from pydantic import Field, model_validator

from cloud.rules.actions.base import BuildContext, CloudModel
from cloud.rules.actions.current_state import CurrentStateAction
from cloud.rules.actions.stream import NAME as STREAM_NAME
from cloud.rules.actions.timeseries import TimeseriesAction
from cloud.stores.records import Record, explode_batch
from cloud.stream.consumer import StreamConsumer
from edge_agent.envelope import EnvelopeError

logger = logging.getLogger(__name__)


class RowSink(Protocol):
    """Where exploded rows go: the time-series store, the current state."""

    async def write(self, record: Record) -> None: ...


class RowsProcessorSpec(CloudModel):
    """One rows processor of the rules file: which stream it reads and which stores it writes."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    stream: str = Field(pattern=STREAM_NAME)
    """The ``streamName`` of a stream action in the same file."""
    batch_size: int = Field(default=100, ge=1, le=10_000)
    """Records per read (the Lambda event source mapping's ``BatchSize``)."""
    timeseries: TimeseriesAction | None = None
    current_state: CurrentStateAction | None = None

    @model_validator(mode="after")
    def _writes_something(self) -> RowsProcessorSpec:
        if self.timeseries is None and self.current_state is None:
            raise ValueError("a rows processor writes a timeseries store, a current_state table or both")
        return self

    def build(self, context: BuildContext) -> RowsProcessor:
        sinks: list[RowSink] = [s.build(context) for s in (self.timeseries, self.current_state) if s is not None]
        return RowsProcessor(self.name, sinks, batch_size=self.batch_size)


class RowsProcessor:
    """Explodes batches into rows for its sinks; ``counters`` holds batches, rows and skipped
    messages (a stream record that is not a batch envelope has no rows)."""

    def __init__(self, name: str, sinks: list[RowSink], *, batch_size: int = 100) -> None:
        self.name = name
        self.sinks = sinks
        self.batch_size = batch_size
        self.counters: Counter[str] = Counter()
        self._reading = asyncio.Lock()

    async def handle(self, data: bytes) -> None:
        """Write the rows of one stream record; returns once every sink holds them, else raises."""
        try:
            record = explode_batch(data)
        except EnvelopeError as exc:
            self.counters["not_batches"] += 1
            logger.warning("rows_skipped", extra={"processor": self.name, "error": str(exc)})
            return
        await asyncio.gather(*(sink.write(record) for sink in self.sinks))
        self.counters["batches"] += 1
        self.counters["rows"] += len(record.rows)

    async def catch_up(self, consumer: StreamConsumer) -> int:
        """Handle every record after the consumer's checkpoint, committing as it goes; how many."""
        done = 0
        async with self._reading:
            while records := await consumer.poll(self.batch_size):
                for record in records:
                    await self.handle(record.data)
                await consumer.commit(records)
                done += len(records)
        return done

    async def stop(self, task: asyncio.Task[None]) -> None:
        """Cancel ``task`` (running :meth:`run`) between two reads, never inside a store's write."""
        async with self._reading:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def run(self, consumer: StreamConsumer, *, idle_wait: float = 1.0, retry_wait: float = 5.0) -> None:
        """Follow the stream forever; a failing sink is retried from the checkpoint."""
        while True:
            try:
                handled = await self.catch_up(consumer)
            except Exception as exc:
                self.counters["failures"] += 1
                logger.warning("rows_write_failed", extra={"processor": self.name, "error": repr(exc)})
                await asyncio.sleep(retry_wait)
                continue
            if not handled:
                await consumer.log.wait_for_append(idle_wait)
