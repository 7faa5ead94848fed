"""Spool on Greengrass Stream Manager (component ``aws.greengrass.StreamManager``).

Each batch's encoded payload is one message. Alarms and telemetry go to two streams
(``<stream>-alarms`` and ``<stream>``) because one stream has one order; ``take`` serves the
alarm stream first. Rejected batches are appended to ``<stream>-rejected`` (1 MiB, oldest
overwritten) for inspection.

Stream Manager never deletes a message because it was read: messages leave a stream only when
their segment is overwritten (``OverwriteOldestData``) or their time to live passes (SDK
``MessageStreamDefinition`` docs). So what was acknowledged is kept here, in ``position_file``:
per stream the next sequence number not acknowledged and the later ones acknowledged out of
order, plus the epoch, ``last_seq`` and the counters, replaced atomically at each (group-committed)
ack. A restart reads each stream from that position: nothing acknowledged is replayed and nothing
unacknowledged is skipped. ``last_seq`` is also recovered from the newest batches in the streams,
so a put that returned just before a crash is never reused. ``put`` is durable when it returns
only with ``flush_on_write`` (the default).

Size cap: both streams use ``OverwriteOldestData`` (acknowledged messages must be recycled,
and ``RejectNewData`` would refuse appends forever once acknowledged data filled the stream).
``drop_oldest`` sizes the telemetry stream at ``max_bytes``, so Stream Manager discards the
oldest segments, read or not; the spool sees the discarded sequence numbers (after each append
and on read) and counts them as dropped. ``reject_new`` enforces ``max_bytes`` on the
unacknowledged bytes itself (``SpoolFull``) and gives the streams headroom for the acknowledged
part. The alarm stream is capped at ``max_bytes / 8`` (at least 64 KiB).

The SDK client is blocking: every call runs on one worker thread. While Stream Manager cannot
be reached (a restart of the component, or not started yet), ``put``, ``take`` and opening wait
for it with backoff, logging ``stream_manager_unreachable`` once per outage; the SDK client
reconnects by itself. A stream whose sequence numbers went back (made anew) is read from its
oldest message: delivered again rather than skipped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Final, Self, TypeVar

from stream_manager import (
    MessageStoreReadErrorException,
    NotEnoughMessagesException,
    ReadMessagesOptions,
    StreamManagerClient,
    StreamManagerException,
)

from edge_agent.backoff import Backoff
from edge_agent.envelope import Batch, BatchKind, EnvelopeError, decode_batch
from edge_agent.errors import Rejected, Retryable, SpoolFull
from edge_agent.interfaces import Ack
from edge_agent.metrics import Counters
from edge_agent.spool.config import StreamManagerSpoolConfig
from edge_agent.spool.drops import DropLog
from edge_agent.spool.errors import SpoolCorrupt
from edge_agent.spool.files import move_aside
from edge_agent.spool.group_commit import GroupCommit
from edge_agent.spool.position import StreamPosition, load_position, save_position
from edge_agent.spool.sequence import check_next
from edge_agent.spool.stats import SpoolStats
from edge_agent.spool.streams import ALARM, TELEMETRY, StreamClient, StreamLayout, StreamMessage, read_tail
from edge_agent.spool.take_queue import TakeQueue

logger = logging.getLogger(__name__)
T = TypeVar("T")
UNREACHABLE_RETRY_MIN: Final = 0.2
UNREACHABLE_RETRY_MAX: Final = 5.0
"""Backoff (seconds, full jitter) while Stream Manager cannot be reached."""

class StreamManagerSpool:
    """Durable FIFO of batches in Stream Manager streams (see the module docstring)."""

    def __init__(self, config: StreamManagerSpoolConfig, *,
                 client_factory: Callable[[], StreamClient] = StreamManagerClient,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.counters = Counters()
        self._client_factory = client_factory
        self._clock = clock
        self._layout = StreamLayout(config)
        self._streams = self._layout.lanes
        self._executor: ThreadPoolExecutor | None = None
        self._client: StreamClient | None = None
        self._position = StreamPosition()
        self._entries: dict[tuple[int, int], StreamMessage] = {}
        self._next_append = {ALARM: 0, TELEMETRY: 0}
        """Per lane: the sequence number after the newest message known."""
        self._acked_ahead: dict[int, set[int]] = {ALARM: set(), TELEMETRY: set()}
        """Per lane: settled out of order, above the oldest unsettled message."""
        self._bytes = 0
        self._queue: TakeQueue[tuple[int, int]] = TakeQueue()
        self._reserved_seq = 0
        self._saves: GroupCommit[None, None] = GroupCommit(self._save)
        self._drops = DropLog(config.stream)
        self._open = False

    async def __aenter__(self) -> Self:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spool-streams")
        try:
            self._client = await self._call(self._client_factory)
            await self._call(self._layout.ensure, self._client_())
            self._position = await self._run(self._load_position)
            for lane in (ALARM, TELEMETRY):
                tail = await self._call(read_tail, self._client_(), self._streams[lane], self._position)
                self._position = tail.position
                self._acked_ahead[lane] = set(self._position.acked_ahead.get(self._streams[lane], ()))
                self._next_append[lane] = tail.next_append
                for message in tail.messages:
                    self._remember(lane, message)
            self._position = self._advanced(self._position)
            await self._saves.submit(None)
        except BaseException:
            await self._shutdown()
            raise
        self._reserved_seq = self._position.last_seq
        self._open = True
        return self

    async def __aexit__(self, *exc: object) -> None:
        if not self._open:
            return
        self._open = False
        self._queue.close()
        try:
            await self._saves.drain()
            await self._saves.submit(None)
        finally:
            self._drops.flush()
            await self._shutdown()

    @property
    def epoch(self) -> str:
        self._check_open()
        return self._position.epoch

    @property
    def last_seq(self) -> int:
        self._check_open()
        return self._position.last_seq

    async def put(self, batch: Batch) -> None:
        """Append the batch; durable on return when ``flush_on_write`` is set (the default)."""
        self._check_open()
        check_next(batch, epoch=self._position.epoch, last_seq=self._reserved_seq)
        payload = batch.encode()
        if self.config.when_full == "reject_new" and self._bytes + len(payload) > self.config.max_bytes:
            await self._refuse(batch.seq)
            raise SpoolFull(f"spool stream {self.config.stream} is full "
                            f"({self._bytes} of {self.config.max_bytes} bytes)")
        lane = ALARM if batch.kind is BatchKind.ALARM else TELEMETRY
        previous, self._reserved_seq = self._reserved_seq, batch.seq
        try:
            seq = await self._call(self._client_().append_message, self._streams[lane], payload)
        except BaseException:
            self._reserved_seq = max(previous, self._position.last_seq)
            raise
        self._position = replace(self._position, last_seq=max(self._position.last_seq, batch.seq))
        self._remember(lane, StreamMessage(seq, len(payload), self._clock()))
        self.counters.inc("put")
        if self.config.when_full == "drop_oldest":
            oldest = (await self._call(self._client_().describe_message_stream,
                                       self._streams[lane])).storage_status.oldest_sequence_number
            await self._forget_below(lane, oldest or 0)

    async def take(self) -> tuple[Batch, Ack]:
        """Wait for the next batch not taken: the alarm stream first, then telemetry."""
        while True:
            key = await self._queue.take()
            lane, seq = key
            options = ReadMessagesOptions(desired_start_sequence_number=seq, min_message_count=1,
                                          max_message_count=1, read_timeout_millis=0)
            try:
                messages = await self._call(self._client_().read_messages, self._streams[lane], options)
            except NotEnoughMessagesException:
                messages = []  # everything from seq on was discarded
            except MessageStoreReadErrorException as exc:
                await self._drop_unreadable(key, exc)
                continue
            except BaseException:
                self._queue.requeue(key)
                raise
            found = messages[0].sequence_number if messages else self._next_append[lane]
            if found != seq:
                self._queue.discard(key)
                await self._forget_below(lane, found)
                continue
            payload: bytes = messages[0].payload
            try:
                batch = decode_batch(payload)
            except EnvelopeError as exc:
                await self._settle(key, payload, None, Rejected(f"undecodable payload: {exc}"))
                continue
            self.counters.inc("taken")
            return batch, self._ack_for(key, payload, batch.seq)

    def stats(self) -> SpoolStats:
        oldest = min((m.ingest_time for m in self._entries.values()), default=None)
        return SpoolStats(
            depth=len(self._entries), bytes=self._bytes,
            oldest_age=None if oldest is None else max(0.0, self._clock() - oldest),
            dropped=self._position.dropped, rejected=self._position.rejected,
            last_acked_seq=self._position.last_acked_seq, in_flight=len(self._queue.in_flight))

    def _ack_for(self, key: tuple[int, int], payload: bytes, batch_seq: int) -> Ack:
        acknowledged = False

        async def ack(outcome: BaseException | None) -> None:
            nonlocal acknowledged
            if acknowledged:
                raise RuntimeError(f"message {key} was already acknowledged")
            acknowledged = True
            if outcome is not None and not isinstance(outcome, Rejected):
                self.counters.inc("requeued")
                self._queue.requeue(key)
                return
            await self._settle(key, payload, batch_seq, outcome)

        return ack

    async def _settle(self, key: tuple[int, int], payload: bytes, batch_seq: int | None,
                      rejected: Rejected | None) -> None:
        """Acknowledge (or dead-letter) a taken message and persist the advanced position."""
        if rejected is not None:
            try:
                await self._call(self._client_().append_message, self._layout.dead_letters, payload)
            except BaseException:
                self._queue.requeue(key)
                raise
        message = self._entries.pop(key, None)
        self._queue.discard(key)
        self._acked_ahead[key[0]].add(key[1])
        if message is not None:
            self._bytes -= message.size
        position = self._position
        if rejected is None and batch_seq is not None:
            position = replace(position, last_acked_seq=max(position.last_acked_seq, batch_seq))
            self.counters.inc("acked")
        else:
            position = replace(position, rejected=position.rejected + 1)
            self.counters.inc("rejected")
            logger.warning("spool_rejected", extra={"spool": self.config.stream, "reason": str(rejected)})
        self._position = self._advanced(position)
        try:
            await self._saves.submit(None)
        except BaseException:
            self._acked_ahead[key[0]].discard(key[1])
            if message is not None:  # not durable: deliver it again
                self._remember(key[0], message)
            raise

    def _advanced(self, position: StreamPosition) -> StreamPosition:
        """Per lane, the next unacknowledged sequence number: the oldest one still known."""
        next_read, ahead = dict(position.next_read), dict(position.acked_ahead)
        for lane, stream in self._streams.items():
            first = min((s for ln, s in self._entries if ln == lane), default=self._next_append[lane])
            self._acked_ahead[lane] = {s for s in self._acked_ahead[lane] if s > first}
            next_read[stream], ahead[stream] = first, sorted(self._acked_ahead[lane])
        return replace(position, next_read=next_read, acked_ahead=ahead)

    async def _forget_below(self, lane: int, oldest: int) -> None:
        """Messages of ``lane`` below ``oldest`` were overwritten: count them as dropped (those in
        flight were read before, and are settled by their ack)."""
        in_flight = self._queue.in_flight
        lost = [k for k in self._entries if k[0] == lane and k[1] < oldest and k not in in_flight]
        if not lost:
            return
        for key in lost:
            self._bytes -= self._entries.pop(key).size
            self._queue.discard(key)
        self._position = self._advanced(replace(self._position,
                                                dropped=self._position.dropped + len(lost)))
        self.counters.inc("dropped", len(lost))
        self._drops.record("overwritten", len(lost), self._position.last_seq)
        await self._saves.submit(None)

    async def _drop_unreadable(self, key: tuple[int, int], error: Exception) -> None:
        """Stream Manager cannot read this message back (its store is damaged): it cannot be
        delivered, so it is counted as dropped rather than blocking the stream's head forever."""
        message = self._entries.pop(key, None)
        if message is not None:
            self._bytes -= message.size
        self._queue.discard(key)
        self._acked_ahead[key[0]].add(key[1])
        self._position = self._advanced(replace(self._position, dropped=self._position.dropped + 1))
        self.counters.inc("dropped")
        self._drops.record("unreadable", 1, self._position.last_seq)
        logger.error("spool_message_unreadable", extra={
            "spool": self.config.stream, "stream": self._streams[key[0]], "sequence_number": key[1],
            "error": str(error)})
        await self._saves.submit(None)

    async def _refuse(self, seq: int) -> None:
        """A refused batch spends its seq and counts as dropped, durably, before ``put`` raises."""
        self._reserved_seq = max(self._reserved_seq, seq)
        self._position = replace(self._position, last_seq=max(self._position.last_seq, seq),
                                 dropped=self._position.dropped + 1)
        self.counters.inc("dropped")
        self._drops.record("reject_new", 1, seq)
        await self._saves.submit(None)

    def _remember(self, lane: int, message: StreamMessage) -> None:
        key = (lane, message.seq)
        self._entries[key] = message
        self._bytes += message.size
        self._next_append[lane] = max(self._next_append[lane], message.seq + 1)
        self._queue.add(key)

    async def _save(self, items: list[None]) -> list[BaseException | None]:
        """One durable write of the position, whatever number of acks it carries."""
        await self._run(save_position, self.config.position_file, self._position)
        return [None] * len(items)

    def _load_position(self) -> StreamPosition:
        path = self.config.position_file
        try:
            position = load_position(path)
        except SpoolCorrupt:
            aside = move_aside(path)
            logger.error("spool_position_moved_aside", extra={
                "path": str(path), "moved_to": str(aside),
                "action": "new epoch started; streams re-read from their oldest message"})
            position = None
        return StreamPosition() if position is None else position

    # --- plumbing ---

    async def _call(self, fn: Callable[..., T], *args: object) -> T:
        """An SDK call on the worker thread. While Stream Manager cannot be reached (restarting,
        not started yet) the call is repeated with backoff: ``put`` and ``take`` wait for it to
        come back rather than fail. Its refusals become ``Retryable``."""
        backoff = Backoff(UNREACHABLE_RETRY_MIN, UNREACHABLE_RETRY_MAX)
        while True:
            try:
                result = await self._run(fn, *args)
            except (NotEnoughMessagesException, MessageStoreReadErrorException):
                raise
            except (ConnectionError, TimeoutError) as exc:
                # The SDK client reconnects on the next call (streammanagerclient.py: __send_and_receive).
                if backoff.attempt == 0:
                    self.counters.inc("stream_manager_unreachable")
                    logger.warning("stream_manager_unreachable", extra={
                        "spool": self.config.stream, "error": f"{type(exc).__name__}: {exc}"})
                await asyncio.sleep(backoff.next())
                continue
            except StreamManagerException as exc:
                raise Retryable(f"stream manager: {type(exc).__name__}: {exc}") from exc
            if backoff.attempt:
                logger.info("stream_manager_reachable", extra={"spool": self.config.stream})
            return result

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        if self._executor is None:
            raise RuntimeError("spool is not open")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def _shutdown(self) -> None:
        if self._client is not None:
            await self._run(self._client.close)
            self._client = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def _client_(self) -> StreamClient:
        if self._client is None:
            raise RuntimeError("spool is not open")
        return self._client

    def _check_open(self) -> None:
        if not self._open:
            raise RuntimeError(f"spool stream {self.config.stream} is not open")
