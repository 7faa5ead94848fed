"""The forwarder's retry pause: a lost connection ends it when the sink is back; otherwise it sleeps."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from edge_agent.envelope import Batch
from edge_agent.errors import Retryable, SpoolFull
from edge_agent.forwarder import Forwarder
from edge_agent.metrics import Counters


class _Spool:
    """Hands out one batch and records the acks."""

    def __init__(self) -> None:
        self.acks: list[BaseException | None] = []
        self.two_acks = asyncio.Event()
        self.counters = Counters()

    async def take(self) -> tuple[Batch, object]:
        async def ack(outcome: BaseException | None) -> None:
            self.acks.append(outcome)
            if len(self.acks) >= 2:
                self.two_acks.set()

        if len(self.acks) >= 2:
            await asyncio.Event().wait()
        return Batch(device="d", site="s", asset_type="a", epoch="e", seq=len(self.acks) + 1,
                     start=0, end=0), ack


class _FlakySink:
    """Fails the first send with the connection down and comes back ``back_after`` seconds after
    that failure (connected from the start when ``back_after`` is None)."""

    def __init__(self, back_after: float | None) -> None:
        self.connected = back_after is None
        self.counters = Counters()
        self.sent_at: list[float] = []
        self._back = asyncio.Event()
        self._back_after = back_after
        if self.connected:
            self._back.set()

    def _reconnect(self) -> None:
        self.connected = True
        self._back.set()

    async def wait_connected(self, within: float) -> None:
        await asyncio.wait_for(self._back.wait(), within)

    async def send(self, batch: Batch) -> None:
        self.sent_at.append(time.monotonic())
        if not self.connected:
            if len(self.sent_at) == 1 and self._back_after is not None:
                asyncio.get_running_loop().call_later(self._back_after, self._reconnect)
            raise Retryable("offline")


async def _forward_two(spool: _Spool, sink: _FlakySink, *, backoff: float) -> None:
    """Run a forwarder (fixed ``backoff``) until the spool saw two acks."""
    forwarder = Forwarder(spool, sink, retry_min=backoff, retry_max=backoff)  # type: ignore[arg-type]
    task = asyncio.create_task(forwarder.run())
    try:
        await asyncio.wait_for(spool.two_acks.wait(), 10)
    finally:
        task.cancel()


async def test_a_reconnect_ends_the_backoff_at_once() -> None:
    spool, sink = _Spool(), _FlakySink(back_after=0.3)
    await _forward_two(spool, sink, backoff=30.0)
    assert isinstance(spool.acks[0], Retryable)
    assert spool.acks[1] is None
    assert sink.sent_at[1] - sink.sent_at[0] < 5.0, "the retry waited for the sink, not the 30 s backoff"


async def test_a_connected_sink_that_fails_is_backed_off_without_waiting_for_a_reconnect() -> None:
    spool, sink = _Spool(), _FlakySink(back_after=None)
    assert sink.connected

    async def send(batch: Batch) -> None:
        sink.sent_at.append(time.monotonic())
        if len(sink.sent_at) == 1:
            raise Retryable("throttled")

    async def wait_connected(within: float) -> None:
        raise AssertionError("a connected sink is backed off with a sleep")

    sink.send = send  # type: ignore[method-assign]
    sink.wait_connected = wait_connected  # type: ignore[method-assign]
    await _forward_two(spool, sink, backoff=0.2)
    assert isinstance(spool.acks[0], Retryable)
    assert spool.acks[1] is None
    assert len(sink.sent_at) == 2


class _FullDiskSpool:
    """Hands out batch 1 until an ack of it commits; the first ``failures`` acks (and one take)
    raise ``SpoolFull``, as a delete commit on a full disk does."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.take_failed = False
        self.sent: list[int] = []
        self.acked = asyncio.Event()
        self.counters = Counters()

    async def take(self) -> tuple[Batch, object]:
        if not self.take_failed:
            self.take_failed = True
            raise SpoolFull("no space left to write spool")
        if self.acked.is_set():
            await asyncio.Event().wait()

        async def ack(outcome: BaseException | None) -> None:
            assert outcome is None
            if self.failures:
                self.failures -= 1
                raise SpoolFull("no space left to write spool")
            self.acked.set()

        return Batch(device="d", site="s", asset_type="a", epoch="e", seq=1, start=0, end=0), ack


async def test_an_ack_that_cannot_commit_is_retried_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    spool = _FullDiskSpool(failures=3)
    sink = _FlakySink(back_after=None)
    forwarder = Forwarder(spool, sink, retry_min=0.01, retry_max=0.02)  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="edge_agent.forwarder"):
        task = asyncio.create_task(forwarder.run())
        try:
            await asyncio.wait_for(spool.acked.wait(), 10)
        finally:
            task.cancel()
    assert len(sink.sent_at) == 4, "the batch stayed in the spool and was sent again until its ack committed"
    assert forwarder.counters.get("spool_failures") == 4
    assert forwarder.counters.get("acked") == 1
    events = [r.getMessage() for r in caplog.records]
    assert events == ["spool_failing", "spool_recovered"], "one line when it starts, one when it ends"
