"""The default spool: one SQLite file (WAL, ``synchronous=FULL``) per device.

Concurrency: every SQLite call runs on one worker thread (the spool's own, or a single-thread
executor that many spools share, as a fleet of thousands in one process does); the event loop
keeps an index of the
stored batches (seq, kind, size, time; never payloads) and plans each commit from it, so
``stats()`` is free and the size cap is enforced without queries. Writes (puts, acks, drops)
go through one :class:`~edge_agent.spool.group_commit.GroupCommit`: concurrent puts share a
transaction and each ``put`` returns once its transaction is durable.

``max_bytes`` bounds every file the spool writes (:class:`~edge_agent.spool.budget.SpoolBudget`):
batches are charged their size in database pages. ``when_full="drop_oldest"`` deletes the oldest
telemetry batches first, then the oldest alarm batches, to make room (as Stream Manager's
``OverwriteOldestData`` does); it never drops a batch that is in flight (taken, not yet
acknowledged) nor one put in the same commit. When that is not enough, ``put`` raises
:class:`~edge_agent.errors.SpoolFull`, as ``reject_new`` always does at the cap.

A full disk refuses new batches with ``SpoolFull`` too, but not acknowledgements: the spool gives
up its reserve file and commits the deletes (and the refusals' count) without the new batches,
so a full spool still drains, which is what frees room. Every refused batch spends its seq and is
counted, durably, in ``dropped`` (``disk_full`` says how many of them the disk refused).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Self, TypeVar

from edge_agent.envelope import Batch, BatchKind, EnvelopeError, decode_batch
from edge_agent.errors import Rejected, SpoolFull
from edge_agent.interfaces import Ack
from edge_agent.metrics import Counters
from edge_agent.spool.budget import SpoolBudget, entry_cost
from edge_agent.spool.config import SqliteSpoolConfig
from edge_agent.spool.drops import DropLog
from edge_agent.spool.group_commit import GroupCommit
from edge_agent.spool.sequence import check_next
from edge_agent.spool.sqlite_store import (
    DEAD_LETTER_KEEP,
    CommitPlan,
    DiskRoom,
    SpoolDatabase,
    SpoolMeta,
    StoredEntry,
)
from edge_agent.spool.stats import SpoolStats
from edge_agent.spool.take_queue import TakeQueue

T = TypeVar("T")

logger = logging.getLogger(__name__)

EXPIRY_INTERVAL = 1.0
"""With ``max_age`` set, commits look for expired batches at most this often (seconds)."""


@dataclass(frozen=True, slots=True)
class _Put:
    entry: StoredEntry
    payload: bytes


@dataclass(frozen=True, slots=True)
class _Remove:
    """Acknowledged (``reason`` None) or rejected (moved to the dead letters with ``reason``)."""

    seq: int
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class _Sweep:
    """Drop expired batches now (``take`` met one)."""


_Item = _Put | _Remove | _Sweep


@dataclass(slots=True)
class _Planned:
    plan: CommitPlan
    results: list[BaseException | None]
    drops: dict[str, int] = field(default_factory=dict)
    acked: int = 0


def _key(entry: StoredEntry) -> tuple[int, int]:
    """Take order: alarms first, then by seq."""
    return (0 if entry.kind == BatchKind.ALARM else 1, entry.seq)


class SqliteSpool:
    """Durable FIFO of batches in an SQLite file (see the module docstring for the policies)."""

    def __init__(self, config: SqliteSpoolConfig, *, clock: Callable[[], float] = time.time,
                 executor: Executor | None = None) -> None:
        """``executor``: run SQLite calls there instead of on a thread of the spool's own. It must
        run them on one thread (SQLite connections are thread-confined), e.g. a
        ``ThreadPoolExecutor(max_workers=1)`` shared by many spools; the spool never shuts it down."""
        self.config = config
        self.counters = Counters()
        self._clock = clock
        self._shared_executor = executor
        self._executor: Executor | None = None
        self._db: SpoolDatabase | None = None
        self._meta = SpoolMeta(epoch="")
        self._budget = SpoolBudget.of(config.max_bytes)
        self._entries: dict[int, StoredEntry] = {}
        """Stored batches in seq order (puts only ever append larger seqs)."""
        self._bytes = 0
        self._cost = 0
        """Database bytes the stored batches take (:func:`~edge_agent.spool.budget.entry_cost`)."""
        self._dead: dict[int, int] = {}
        """Dead letters kept (seq: cost), oldest first."""
        self._unrecorded_full = 0
        """Batches the disk refused whose count no commit could record yet."""
        self._room = DiskRoom(disk_full=False, free=0)
        self._queue: TakeQueue[tuple[int, int]] = TakeQueue()
        self._reserved_seq = 0
        self._commits: GroupCommit[_Item, None] = GroupCommit(self._commit)
        self._drops = DropLog(str(config.path))
        self._last_expiry = float("-inf")
        self._open = False

    async def __aenter__(self) -> Self:
        self._executor = self._shared_executor or ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="spool-sqlite")
        try:
            db, opened = await self._run(SpoolDatabase.open, self.config.path,
                                         on_corrupt=self.config.on_corrupt, max_bytes=self.config.max_bytes)
        except BaseException:
            if self._executor is not self._shared_executor:
                self._executor.shutdown(wait=False)
            raise
        meta, entries, self._room, self._budget = opened.meta, opened.entries, opened.room, opened.budget
        self._db, self._meta = db, meta
        self._entries = {e.seq: e for e in entries}
        self._bytes = sum(e.size for e in entries)
        self._cost = sum(entry_cost(e.size) for e in entries)
        self._dead = {seq: entry_cost(size) for seq, size in opened.dead_letters}
        for entry in entries:
            self._queue.add(_key(entry))
        self._reserved_seq = meta.last_seq
        self._open = True
        return self

    async def __aexit__(self, *exc: object) -> None:
        if not self._open:
            return
        self._open = False
        self._queue.close()
        try:
            await self._commits.drain()
        finally:
            self._drops.flush()
            if self._db is not None:
                await self._run(self._db.close)
            if self._executor is not None and self._executor is not self._shared_executor:
                self._executor.shutdown(wait=True)

    @property
    def epoch(self) -> str:
        self._check_open()
        return self._meta.epoch

    @property
    def last_seq(self) -> int:
        self._check_open()
        return self._reserved_seq

    async def put(self, batch: Batch) -> None:
        """Store the batch; returns once its transaction is committed (``synchronous=FULL``)."""
        self._check_open()
        check_next(batch, epoch=self._meta.epoch, last_seq=self._reserved_seq)
        self._reserved_seq = batch.seq
        payload = batch.encode()
        entry = StoredEntry(batch.seq, int(batch.kind), len(payload), self._clock())
        await self._commits.submit(_Put(entry, payload))

    async def take(self) -> tuple[Batch, Ack]:
        """Wait for the next batch not taken: alarms first, then telemetry by seq."""
        while True:
            key = await self._queue.take()
            seq = key[1]
            if self._expired(self._entries[seq], self._clock()):
                self._queue.requeue(key)
                await self._commits.submit(_Sweep())
                continue
            try:
                payload = await self._run(self._database().load, seq)
            except BaseException:
                self._queue.requeue(key)
                raise
            if payload is None:
                self._queue.discard(key)
                continue
            try:
                batch = decode_batch(payload)
            except EnvelopeError as exc:
                logger.error("spool_batch_undecodable", extra={
                    "path": str(self.config.path), "seq": seq, "error": str(exc),
                    "action": "moved to the dead letters (edgeferry spool inspect counts them)"})
                try:
                    await self._commits.submit(_Remove(seq, f"undecodable payload: {exc}"))
                except BaseException:
                    self._queue.requeue(key)
                    raise
                continue
            self.counters.inc("taken")
            return batch, self._ack_for(seq)

    def stats(self) -> SpoolStats:
        oldest = next(iter(self._entries.values()), None)
        return SpoolStats(
            depth=len(self._entries), bytes=self._bytes,
            oldest_age=None if oldest is None else max(0.0, self._clock() - oldest.created),
            dropped=self._meta.dropped + self._unrecorded_full, rejected=self._meta.rejected,
            last_acked_seq=self._meta.last_acked_seq, in_flight=len(self._queue.in_flight),
            disk_full=self._meta.disk_full + self._unrecorded_full)

    def _ack_for(self, seq: int) -> Ack:
        acknowledged = False

        async def ack(outcome: BaseException | None) -> None:
            nonlocal acknowledged
            if acknowledged:
                raise RuntimeError(f"batch {seq} was already acknowledged")
            acknowledged = True
            if outcome is not None and not isinstance(outcome, Rejected):
                self.counters.inc("requeued")
                self._requeue(seq)
                return
            reason = None if outcome is None else f"{type(outcome).__name__}: {outcome}"
            try:
                await self._commits.submit(_Remove(seq, reason))
            except BaseException:
                self._requeue(seq)
                raise

        return ack

    def _requeue(self, seq: int) -> None:
        entry = self._entries.get(seq)
        if entry is not None:
            self._queue.requeue(_key(entry))

    def _expired(self, entry: StoredEntry, now: float) -> bool:
        return self.config.max_age is not None and now - entry.created > self.config.max_age

    async def _commit(self, items: list[_Item]) -> list[BaseException | None]:
        if self._room.disk_full and any(isinstance(i, _Put) for i in items):
            self._room = await self._run(self._database().room)
        planned = self._plan(items)
        try:
            await self._write(planned)
        except SpoolFull as exc:
            puts = [i for i in items if isinstance(i, _Put)]
            if not puts:
                raise
            # The disk is full: commit everything but the new batches (the database gave up its
            # reserve for this), and count the refused batches with the drops.
            refused = SpoolFull(f"{exc}; batch refused and counted as dropped")
            planned = self._plan([i for i in items if not isinstance(i, _Put)], disk_full=puts)
            try:
                await self._write(planned)
            except BaseException:
                self._unrecorded_full += len(puts)
                self._drops.record("disk_full", len(puts), max(p.entry.seq for p in puts))
                raise
            results = iter(planned.results)
            return [refused if isinstance(i, _Put) else next(results) for i in items]
        return planned.results

    async def _write(self, planned: _Planned) -> None:
        """Commit a plan and apply it to the index; on failure the index is as before."""
        plan = planned.plan
        removed = [_key(self._entries[seq]) for seq in plan.deletes + [s for s, _ in plan.dead_letters]]
        for key in removed:  # dropped batches must not be taken while their deletion commits
            if key not in self._queue.in_flight:
                self._queue.discard(key)
        try:
            if plan.inserts or removed or plan.forget_dead or plan.meta != self._meta:
                self._room = await self._run(self._database().commit, plan)
        except BaseException:
            in_flight = self._queue.in_flight
            for key in removed:
                if key not in in_flight:
                    self._queue.add(key)
            raise
        self._reserved_seq = max([plan.meta.last_seq, self._reserved_seq])
        self._apply(planned)

    def _plan(self, items: list[_Item], *, disk_full: Sequence[_Put] = ()) -> _Planned:
        """Decide, from the index, what one transaction writes (runs on the event loop).

        ``disk_full``: puts the disk refused, to spend their seqs and count them as dropped."""
        meta = self._meta
        planned = _Planned(CommitPlan(meta=meta), [])
        taken = {seq for _, seq in self._queue.in_flight}
        room = self._budget.database - self._cost - sum(self._dead.values())
        free = self._room.free if self._room.disk_full else None  # after a full disk: free pages only
        now = self._clock()

        def drop(seqs: list[int], reason: str) -> int:
            planned.plan.deletes.extend(seqs)
            taken.update(seqs)
            planned.drops[reason] = planned.drops.get(reason, 0) + len(seqs)
            return sum(entry_cost(self._entries[s].size) for s in seqs)

        if self.config.max_age is not None and (
                any(isinstance(i, _Sweep) for i in items) or now - self._last_expiry >= EXPIRY_INTERVAL):
            self._last_expiry = now
            room += drop([s for s, e in self._entries.items()
                          if s not in taken and self._expired(e, now)], "max_age")
        refused: str | None = None
        removed: set[int] = set()
        for item in items:
            if isinstance(item, _Put):
                cost = entry_cost(item.entry.size)
                if refused is None and cost > room:
                    victims = self._victims(cost - room, taken)
                    if victims is None:
                        refused = (f"spool {self.config.path} is full ({self._budget.database - room}"
                                   f" of {self._budget.database} bytes for batches)")
                    else:
                        room += drop(victims, "max_bytes")
                # A refused batch still spends its seq, durably (a seq is never handed out twice,
                # also after a restart), and is counted with the drops.
                meta = replace(meta, last_seq=max(meta.last_seq, item.entry.seq))
                if refused is not None:
                    planned.drops["reject_new"] = planned.drops.get("reject_new", 0) + 1
                    planned.results.append(SpoolFull(refused))
                    continue
                if free is not None and cost > free:
                    planned.drops["disk_full"] = planned.drops.get("disk_full", 0) + 1
                    meta = replace(meta, disk_full=meta.disk_full + 1)
                    planned.results.append(SpoolFull(
                        f"no space left to write spool {self.config.path}; batch refused and counted as dropped"))
                    continue
                if free is not None:
                    free -= cost
                room -= cost
                planned.plan.inserts.append((item.entry, item.payload))
            elif isinstance(item, _Remove) and item.seq in self._entries and item.seq not in removed:
                removed.add(item.seq)
                taken.add(item.seq)
                if item.reason is None:
                    planned.plan.deletes.append(item.seq)
                    planned.acked += 1
                    meta = replace(meta, last_acked_seq=max(meta.last_acked_seq, item.seq))
                else:
                    planned.plan.dead_letters.append((item.seq, item.reason))
                    meta = replace(meta, rejected=meta.rejected + 1)
            planned.results.append(None)
        full = len(disk_full) + self._unrecorded_full
        if full:
            planned.drops["disk_full"] = planned.drops.get("disk_full", 0) + len(disk_full)
            meta = replace(meta, last_seq=max([meta.last_seq, *(p.entry.seq for p in disk_full)]),
                           disk_full=meta.disk_full + full, dropped=meta.dropped + self._unrecorded_full)
        planned.plan.forget_dead = self._dead_to_forget(planned.plan.dead_letters)
        planned.plan.meta = replace(meta, dropped=meta.dropped + sum(planned.drops.values()))
        return planned

    def _dead_to_forget(self, new: list[tuple[int, str]]) -> list[int]:
        """The oldest dead letters to forget so that at most ``DEAD_LETTER_KEEP`` are kept, within
        their share of the budget (a new one too large for it is not kept at all)."""
        kept = [*self._dead.items(), *((seq, entry_cost(self._entries[seq].size)) for seq, _ in new)]
        total = sum(cost for _, cost in kept)
        forget: list[int] = []
        for seq, cost in kept:
            if len(kept) - len(forget) <= DEAD_LETTER_KEEP and total <= self._budget.dead_letters:
                break
            forget.append(seq)
            total -= cost
        return forget

    def _victims(self, need: int, taken: set[int]) -> list[int] | None:
        """Oldest telemetry, then oldest alarms, not in flight, freeing ``need`` bytes; or None."""
        if self.config.when_full == "reject_new" or need > self._budget.database:
            return None
        victims: list[int] = []
        for kind in (BatchKind.TELEMETRY, BatchKind.ALARM):
            for seq, entry in self._entries.items():
                if entry.kind == kind and seq not in taken:
                    victims.append(seq)
                    need -= entry_cost(entry.size)
                    if need <= 0:
                        return victims
        return None

    def _apply(self, planned: _Planned) -> None:
        """The commit is durable: bring the index up to date."""
        plan = planned.plan
        for entry, _ in plan.inserts:
            self._entries[entry.seq] = entry
            self._bytes += entry.size
            self._cost += entry_cost(entry.size)
            self._queue.add(_key(entry))
        dead = {seq for seq, _ in plan.dead_letters}
        for seq in plan.deletes + sorted(dead):
            removed = self._entries.pop(seq, None)
            if removed is not None:
                self._bytes -= removed.size
                self._cost -= entry_cost(removed.size)
                self._queue.discard(_key(removed))
                if seq in dead:
                    self._dead[seq] = entry_cost(removed.size)
        for seq in plan.forget_dead:
            self._dead.pop(seq, None)
        self._unrecorded_full = 0
        self.counters.inc("put", len(plan.inserts))
        self.counters.inc("acked", planned.acked)
        self.counters.inc("rejected", len(plan.dead_letters))
        self.counters.inc("commits")
        for reason, count in planned.drops.items():
            self.counters.inc("dropped", count)
            self._drops.record(reason, count, plan.meta.last_seq)
        self._meta = plan.meta

    def _database(self) -> SpoolDatabase:
        if self._db is None:
            raise RuntimeError("spool is not open")
        return self._db

    def _check_open(self) -> None:
        if not self._open:
            raise RuntimeError(f"spool {self.config.path} is not open")

    async def _run(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        if self._executor is None:
            raise RuntimeError("spool is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: fn(*args, **kwargs))
