"""Moves batches from the spool to the sink; a batch leaves the spool only after the sink's ack."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol, runtime_checkable

from edge_agent.backoff import Backoff
from edge_agent.envelope import Batch
from edge_agent.errors import Rejected, Retryable
from edge_agent.interfaces import Ack, Sink, Spool
from edge_agent.metrics import Counters

log = logging.getLogger(__name__)


@runtime_checkable
class ReconnectingSink(Protocol):
    """A sink that knows when its connection is back (the MQTT sink)."""

    @property
    def connected(self) -> bool: ...

    async def wait_connected(self, within: float) -> None: ...


class Forwarder:
    """``window`` workers each take a batch, send it, and ack it with the outcome.

    ``Retryable`` puts the batch back at the head of the spool and backs off (full jitter);
    ``Rejected`` removes it for good and counts it; anything else is a bug in a sink, so the
    batch is requeued and the error logged rather than lost.

    The spool may fail too (a full disk, an I/O error): a ``take`` or an ack that cannot commit
    is counted and backed off, never fatal. An ack that did not commit leaves its batch in the
    spool, which hands it out again: it is sent twice (the cloud de-duplicates), never lost.
    Such failures are logged when they start and when they end, not once per batch.
    """

    def __init__(self, spool: Spool, sink: Sink, *, window: int = 1,
                 retry_min: float = 0.5, retry_max: float = 30.0) -> None:
        self.spool = spool
        self.sink = sink
        self.window = window
        self.retry_min = retry_min
        self.retry_max = retry_max
        self.counters = Counters()
        self._spool_failing = False

    async def run(self) -> None:
        """Forward until cancelled."""
        async with asyncio.TaskGroup() as group:
            for worker in range(self.window):
                group.create_task(self._worker(), name=f"forwarder-{worker}")

    async def _worker(self) -> None:
        backoff = Backoff(self.retry_min, self.retry_max)
        while True:
            try:
                batch, ack = await self.spool.take()
            except Retryable as exc:
                self._spool_failed("take", exc)
                await asyncio.sleep(backoff.next())
                continue
            try:
                outcome = await self._send(batch)
            except asyncio.CancelledError:
                await asyncio.shield(self._settle(ack, Retryable("shutting down"), batch.seq))
                raise
            if not await self._settle(ack, outcome, batch.seq):
                await asyncio.sleep(backoff.next())
            elif outcome is None:
                backoff.reset()
                self.counters.inc("acked")
            elif isinstance(outcome, Rejected):
                self.counters.inc("rejected")
                log.warning("batch_rejected", extra={"seq": batch.seq, "error": str(outcome)})
            else:
                await self._pause(backoff.next())

    async def _send(self, batch: Batch) -> BaseException | None:
        """The outcome of one send, as the ack takes it (None: delivered)."""
        try:
            await self.sink.send(batch)
        except Retryable as exc:
            self.counters.inc("retried")
            log.debug("send_retry", extra={"seq": batch.seq, "error": str(exc)})
            return exc
        except Rejected as exc:
            return exc
        except Exception as exc:
            self.counters.inc("errors")
            log.exception("sink_error", extra={"seq": batch.seq})
            return Retryable(f"unexpected sink error: {exc!r}")
        return None

    async def _settle(self, ack: Ack, outcome: BaseException | None, seq: int) -> bool:
        """Ack the batch; False when the spool could not record it (the batch stays and comes back)."""
        try:
            await ack(outcome)
        except Exception as exc:
            self._spool_failed("ack", exc, seq=seq)
            return False
        if self._spool_failing:
            self._spool_failing = False
            log.warning("spool_recovered", extra={"failures": self.counters.get("spool_failures")})
        return True

    def _spool_failed(self, what: str, exc: Exception, *, seq: int | None = None) -> None:
        self.counters.inc("spool_failures")
        if not self._spool_failing:
            self._spool_failing = True
            log.warning("spool_failing", extra={"operation": what, "seq": seq, "error": str(exc),
                                                "action": "batches stay in the spool and are retried"})

    async def _pause(self, delay: float) -> None:
        """Back off after a failed send. While the sink is disconnected, the pause ends as soon as
        it is connected again (it already waited its own jittered reconnect delay), so a backlog
        starts draining at once rather than after the rest of a long backoff."""
        if isinstance(self.sink, ReconnectingSink) and not self.sink.connected:
            with contextlib.suppress(TimeoutError):
                await self.sink.wait_connected(delay)
            return
        await asyncio.sleep(delay)
