"""The behaviour every Spool must show, whatever stores it.

Subclass :class:`SpoolContract` in a ``test_*.py`` module and define the fixture
``spool_factory``: a callable taking ``max_bytes``, ``when_full`` and ``max_age`` keyword
arguments (each may be None for the backend's default) and returning a new, unopened spool over
the same storage every time it is called, so that calling it again is a restart. ``max_bytes`` is
the room for batches: a backend whose cap also covers its own files (SQLite's WAL) adds them.
A backend may charge a batch more than its payload bytes (its size on disk), so the tests fill a
spool until it refuses rather than count on how many batches fit.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any, Protocol

import pytest

from edge_agent.envelope import Batch, BatchKind, Reading
from edge_agent.errors import Rejected, Retryable, SpoolFull
from edge_agent.interfaces import Spool


class SpoolFactory(Protocol):
    def __call__(self, *, max_bytes: int | None = None, when_full: str | None = None,
                 max_age: float | None = None) -> Spool: ...


def make_batch(epoch: str, seq: int, *, kind: BatchKind = BatchKind.TELEMETRY,
               readings: int = 3) -> Batch:
    """A batch of ``readings`` readings in ``epoch`` (~60 bytes a reading)."""
    t0 = 1_700_000_000_000 + seq * 1000
    rows = tuple(Reading("dev-1", f"p{i}", t0 + i, float(i) + seq / 10) for i in range(readings))
    alarms: tuple[dict[str, Any], ...] = ()
    if kind is BatchKind.ALARM:
        alarms = ({"name": "high_temp", "point": "p0", "message": "too hot"},)
    return Batch(device="dev-1", site="plant", asset_type="pump", epoch=epoch, seq=seq,
                 start=t0, end=t0 + readings, readings=rows, last={r.point: r.v for r in rows},
                 kind=kind, alarms=alarms)


async def put_all(spool: Spool, seqs: range | list[int], **kw: Any) -> None:
    for seq in seqs:
        await spool.put(make_batch(spool.epoch, seq, **kw))


async def take_seqs(spool: Spool, n: int, *, ack: bool = True) -> list[int]:
    out = []
    for _ in range(n):
        batch, done = await asyncio.wait_for(spool.take(), timeout=30)
        out.append(batch.seq)
        if ack:
            await done(None)
    return out


async def assert_empty(spool: Spool) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(spool.take(), timeout=0.2)


class SpoolContract:
    """Not collected itself (no ``Test`` prefix): subclasses run it for one backend."""

    async def test_fifo_by_seq(self, spool_factory: SpoolFactory) -> None:
        async with spool_factory() as spool:
            await put_all(spool, range(1, 21))
            assert await take_seqs(spool, 20) == list(range(1, 21))
            await assert_empty(spool)

    async def test_taken_batch_is_the_batch_put(self, spool_factory: SpoolFactory) -> None:
        async with spool_factory() as spool:
            batch = make_batch(spool.epoch, 1, readings=5)
            await spool.put(batch)
            got, ack = await spool.take()
            assert got == batch
            await ack(None)

    async def test_alarms_jump_the_queue(self, spool_factory: SpoolFactory) -> None:
        async with spool_factory() as spool:
            await put_all(spool, [1, 2, 3])
            await spool.put(make_batch(spool.epoch, 4, kind=BatchKind.ALARM))
            await put_all(spool, [5])
            await spool.put(make_batch(spool.epoch, 6, kind=BatchKind.ALARM))
            assert await take_seqs(spool, 6) == [4, 6, 1, 2, 3, 5]

    async def test_take_waits_for_a_put(self, spool_factory: SpoolFactory) -> None:
        async with spool_factory() as spool:
            waiting = asyncio.create_task(spool.take())
            await asyncio.sleep(0.05)
            assert not waiting.done()
            await spool.put(make_batch(spool.epoch, 1))
            batch, ack = await asyncio.wait_for(waiting, timeout=30)
            assert batch.seq == 1
            await ack(None)

    async def test_at_least_once_across_restart(self, spool_factory: SpoolFactory) -> None:
        async with spool_factory() as spool:
            epoch = spool.epoch
            await put_all(spool, range(1, 11))
            taken = [await spool.take() for _ in range(5)]
            assert [b.seq for b, _ in taken] == [1, 2, 3, 4, 5]
            for _, ack in taken[:3]:
                await ack(None)
        async with spool_factory() as spool:
            assert spool.epoch == epoch
            assert spool.stats().depth == 7
            assert await take_seqs(spool, 7) == [4, 5, 6, 7, 8, 9, 10]
            await assert_empty(spool)
        async with spool_factory() as spool:
            assert spool.stats().depth == 0
            assert spool.stats().last_acked_seq == 10

    async def test_retryable_requeues_at_the_head(self, spool_factory: SpoolFactory) -> None:
        async with spool_factory() as spool:
            await put_all(spool, range(1, 6))
            (_, ack1), (_, ack2) = await spool.take(), await spool.take()
            await ack2(Retryable("link down"))
            assert await take_seqs(spool, 1) == [2]
            await ack1(Retryable("link down"))
            assert await take_seqs(spool, 4) == [1, 3, 4, 5]
            assert spool.stats().rejected == 0

    async def test_rejected_is_removed_and_counted(self, spool_factory: SpoolFactory) -> None:
        async with spool_factory() as spool:
            await put_all(spool, range(1, 4))
            _, ack = await spool.take()
            await ack(Rejected("payload too large"))
            stats = spool.stats()
            assert (stats.rejected, stats.depth, stats.in_flight) == (1, 2, 0)
            assert await take_seqs(spool, 2) == [2, 3]
        async with spool_factory() as spool:
            assert spool.stats().rejected == 1
            await assert_empty(spool)

    async def test_ack_twice_is_a_bug(self, spool_factory: SpoolFactory) -> None:
        async with spool_factory() as spool:
            await put_all(spool, [1])
            _, ack = await spool.take()
            await ack(None)
            with pytest.raises(RuntimeError):
                await ack(None)

    async def test_last_seq_survives_when_everything_was_acked(self, spool_factory: SpoolFactory) -> None:
        async with spool_factory() as spool:
            assert spool.last_seq == 0
            epoch = spool.epoch
            await put_all(spool, range(1, 4))
            await take_seqs(spool, 3)
            assert spool.last_seq == 3
        async with spool_factory() as spool:
            assert (spool.epoch, spool.last_seq) == (epoch, 3)
            with pytest.raises(ValueError, match="seq"):
                await spool.put(make_batch(spool.epoch, 3))
            await spool.put(make_batch(spool.epoch, spool.last_seq + 1))
            assert spool.last_seq == 4

    async def test_put_of_an_old_seq_is_refused(self, spool_factory: SpoolFactory) -> None:
        async with spool_factory() as spool:
            await put_all(spool, [5])
            for seq in (5, 4, 0):
                with pytest.raises(ValueError, match="seq"):
                    await spool.put(make_batch(spool.epoch, seq))
            assert spool.stats().depth == 1

    async def test_concurrent_puts_are_all_durable_in_order(self, spool_factory: SpoolFactory) -> None:
        async with spool_factory() as spool:
            await asyncio.gather(*(spool.put(make_batch(spool.epoch, seq)) for seq in range(1, 51)))
            assert spool.last_seq == 50
        async with spool_factory() as spool:
            assert await take_seqs(spool, 50) == list(range(1, 51))

    async def test_stats_track_depth_bytes_and_in_flight(self, spool_factory: SpoolFactory) -> None:
        async with spool_factory() as spool:
            empty = spool.stats()
            assert (empty.depth, empty.bytes, empty.oldest_age, empty.in_flight) == (0, 0, None, 0)
            batches = [make_batch(spool.epoch, seq) for seq in (1, 2)]
            for batch in batches:
                await spool.put(batch)
            stats = spool.stats()
            assert stats.depth == 2
            assert stats.bytes == sum(len(b.encode()) for b in batches)
            assert stats.oldest_age is not None
            assert stats.oldest_age >= 0
            _, ack = await spool.take()
            assert spool.stats().in_flight == 1
            await ack(None)
            stats = spool.stats()
            assert (stats.depth, stats.in_flight, stats.last_acked_seq) == (1, 0, 1)

    async def test_drop_oldest_keeps_the_newest(self, spool_factory: SpoolFactory) -> None:
        size = batch_size()
        cap = size * 10
        async with spool_factory(max_bytes=cap, when_full="drop_oldest") as spool:
            await put_all(spool, range(1, 41))
            assert spool.last_seq == 40
            assert spool.stats().bytes <= cap
            taken = await take_seqs(spool, spool.stats().depth)
            assert taken == sorted(taken)
            assert taken[-1] == 40
            assert 1 not in taken
            stats = spool.stats()
            assert stats.dropped == 40 - len(taken)
            assert stats.dropped > 0

    async def test_drop_oldest_spares_the_batch_in_flight(self, spool_factory: SpoolFactory) -> None:
        size = batch_size()
        async with spool_factory(max_bytes=size * 10, when_full="drop_oldest") as spool:
            await put_all(spool, [1])
            first, ack = await spool.take()
            await put_all(spool, range(2, 41))
            await ack(None)
            assert spool.stats().last_acked_seq == 1
            assert first.seq == 1

    async def test_reject_new_refuses_at_the_cap_until_acks_free_room(
            self, spool_factory: SpoolFactory) -> None:
        async with spool_factory(max_bytes=batch_size() * 5, when_full="reject_new") as spool:
            seq = await fill_until_refused(spool)
            assert seq > 2
            assert spool.stats().bytes <= batch_size() * 5
            assert spool.last_seq == seq, "a refused batch spends its seq: it is never handed out again"
            assert spool.stats().dropped == 1, "and it counts as dropped"
            with pytest.raises(ValueError, match="never reused"):
                await spool.put(make_batch(spool.epoch, seq))
            await take_seqs(spool, 2)
            await spool.put(make_batch(spool.epoch, seq + 1))
            assert spool.last_seq == seq + 1
            assert await take_seqs(spool, spool.stats().depth) == [*range(3, seq), seq + 1]

    async def test_a_refused_seq_stays_spent_after_a_restart(self, spool_factory: SpoolFactory) -> None:
        cap = batch_size() * 5
        async with spool_factory(max_bytes=cap, when_full="reject_new") as spool:
            seq = await fill_until_refused(spool)
        async with spool_factory(max_bytes=cap, when_full="reject_new") as spool:
            assert spool.last_seq == seq
            assert spool.stats().dropped == 1


async def fill_until_refused(spool: Spool) -> int:
    """Put batches until the spool refuses one (``SpoolFull``); the refused seq."""
    for seq in range(spool.last_seq + 1, spool.last_seq + 1000):
        try:
            await spool.put(make_batch(spool.epoch, seq))
        except SpoolFull:
            return seq
    raise AssertionError("the spool never refused a batch")


def batch_size() -> int:
    """Encoded size of a ``make_batch`` batch (epochs are 16 characters)."""
    return len(make_batch("0" * 16, 1).encode())


class SpoolModelContract:
    """Random sequences of put / take / ack / nack / reject / restart checked against a model
    of the contract (mixed into :class:`SpoolContract`'s subclasses)."""

    @pytest.mark.parametrize("seed", [1, 2, 3])
    async def test_random_operations_match_the_model(self, spool_factory: SpoolFactory, seed: int) -> None:
        rng = random.Random(seed)
        stored: dict[int, BatchKind] = {}
        in_flight: dict[int, Any] = {}
        last_seq = acked_max = rejected = 0
        spool = await spool_factory().__aenter__()
        try:
            for _ in range(150):
                op = rng.choice(["put", "put", "take", "take", "ack", "nack", "reject", "restart"])
                if op == "put":
                    last_seq += 1
                    kind = BatchKind.ALARM if rng.random() < 0.2 else BatchKind.TELEMETRY
                    await spool.put(make_batch(spool.epoch, last_seq, kind=kind))
                    stored[last_seq] = kind
                elif op == "take" and len(stored) > len(in_flight):
                    ready = [s for s in stored if s not in in_flight]
                    expected = min(ready, key=lambda s: (stored[s] is not BatchKind.ALARM, s))
                    batch, ack = await asyncio.wait_for(spool.take(), timeout=30)
                    assert batch.seq == expected
                    in_flight[batch.seq] = ack
                elif op in ("ack", "nack", "reject") and in_flight:
                    seq = rng.choice(sorted(in_flight))
                    ack = in_flight.pop(seq)
                    if op == "ack":
                        await ack(None)
                        del stored[seq]
                        acked_max = max(acked_max, seq)
                    elif op == "reject":
                        await ack(Rejected("no"))
                        del stored[seq]
                        rejected += 1
                    else:
                        await ack(Retryable("later"))
                elif op == "restart":
                    await spool.__aexit__(None, None, None)
                    in_flight.clear()
                    spool = await spool_factory().__aenter__()
                stats = spool.stats()
                assert (stats.depth, stats.in_flight, spool.last_seq) == (len(stored), len(in_flight), last_seq)
                assert (stats.last_acked_seq, stats.rejected) == (acked_max, rejected)
        finally:
            await spool.__aexit__(None, None, None)
