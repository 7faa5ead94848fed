"""Moves batches from the spool to the sink; a batch leaves the spool only after the sink's ack."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol, runtime_checkable

from edge_agent.backoff import Backoff
from edge_agent.errors import Rejected, Retryable
from edge_agent.interfaces import Sink, Spool
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
    """

    def __init__(self, spool: Spool, sink: Sink, *, window: int = 1,
                 retry_min: float = 0.5, retry_max: float = 30.0) -> None:
        self.spool = spool
        self.sink = sink
        self.window = window
        self.retry_min = retry_min
        self.retry_max = retry_max
        self.counters = Counters()

    async def run(self) -> None:
        """Forward until cancelled."""
        async with asyncio.TaskGroup() as group:
            for worker in range(self.window):
                group.create_task(self._worker(), name=f"forwarder-{worker}")

    async def _worker(self) -> None:
        backoff = Backoff(self.retry_min, self.retry_max)
        while True:
            batch, ack = await self.spool.take()
            try:
                await self.sink.send(batch)
            except Retryable as exc:
                await ack(exc)
                self.counters.inc("retried")
                delay = backoff.next()
                log.debug("send_retry", extra={"seq": batch.seq, "error": str(exc),
                                               "delay": round(delay, 2)})
                await self._pause(delay)
                continue
            except Rejected as exc:
                await ack(exc)
                self.counters.inc("rejected")
                log.warning("batch_rejected", extra={"seq": batch.seq, "error": str(exc)})
                continue
            except asyncio.CancelledError:
                await asyncio.shield(ack(Retryable("shutting down")))
                raise
            except Exception as exc:
                await ack(Retryable(f"unexpected sink error: {exc!r}"))
                self.counters.inc("errors")
                log.exception("sink_error", extra={"seq": batch.seq})
                await asyncio.sleep(backoff.next())
                continue
            await ack(None)
            backoff.reset()
            self.counters.inc("acked")

    async def _pause(self, delay: float) -> None:
        """Back off after a failed send. While the sink is disconnected, the pause ends as soon as
        it is connected again (it already waited its own jittered reconnect delay), so a backlog
        starts draining at once rather than after the rest of a long backoff."""
        if isinstance(self.sink, ReconnectingSink) and not self.sink.connected:
            with contextlib.suppress(TimeoutError):
                await self.sink.wait_connected(delay)
            return
        await asyncio.sleep(delay)
