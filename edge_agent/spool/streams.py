"""The Stream Manager streams behind :class:`~edge_agent.spool.stream_manager.StreamManagerSpool`:
their names and definitions, and reading back the unacknowledged tail after a restart.

Blocking (the SDK client is): called on the spool's worker thread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any, Final, Protocol

from stream_manager import (
    InvalidRequestException,
    MessageStreamDefinition,
    Persistence,
    ReadMessagesOptions,
    StrategyOnFull,
)

from edge_agent.envelope import EnvelopeError, decode_batch
from edge_agent.spool.config import StreamManagerSpoolConfig
from edge_agent.spool.position import StreamPosition

logger = logging.getLogger(__name__)

ALARM: Final = 0
TELEMETRY: Final = 1
"""Lanes, which are also take priorities: the key (lane, sequence number) orders takes."""
DEAD_LETTER_BYTES: Final = 1024 * 1024
MIN_STREAM_BYTES: Final = 64 * 1024
PAGE: Final = 100
"""Messages read per request when a restart reads the unacknowledged tail."""


class StreamClient(Protocol):
    """The part of ``stream_manager.StreamManagerClient`` the spool uses."""

    def list_streams(self) -> list[str]: ...
    def create_message_stream(self, definition: MessageStreamDefinition) -> None: ...
    def update_message_stream(self, definition: MessageStreamDefinition) -> None: ...
    def append_message(self, stream_name: str, data: bytes) -> int: ...
    def read_messages(self, stream_name: str, options: ReadMessagesOptions | None = None) -> list[Any]: ...
    def describe_message_stream(self, stream_name: str) -> Any: ...
    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class StreamMessage:
    """An unacknowledged message the spool knows of (its payload stays in the stream)."""

    seq: int
    size: int
    ingest_time: float
    """Seconds since the epoch (Stream Manager's ingest time)."""


@dataclass(frozen=True, slots=True)
class Tail:
    """What a restart finds in one stream."""

    messages: list[StreamMessage]
    next_append: int
    """The sequence number the next append will get."""
    position: StreamPosition
    """Updated with the tail's highest batch seq and what was overwritten meanwhile."""


@dataclass(frozen=True, slots=True)
class StreamLayout:
    """Names and definitions of the alarm, telemetry and dead-letter streams of one spool."""

    config: StreamManagerSpoolConfig

    @property
    def lanes(self) -> dict[int, str]:
        return {ALARM: f"{self.config.stream}-alarms", TELEMETRY: self.config.stream}

    @property
    def dead_letters(self) -> str:
        return f"{self.config.stream}-rejected"

    def definition(self, lane: int | None) -> MessageStreamDefinition:
        """``lane`` None: the dead-letter stream."""
        cap = self.config.max_bytes
        if lane == ALARM:
            cap = max(MIN_STREAM_BYTES, cap // 8)
        elif lane is None:
            cap = DEAD_LETTER_BYTES
        segment = max(1024, cap // 16)
        if self.config.when_full == "reject_new":
            cap *= 2  # headroom for acknowledged messages; the spool enforces max_bytes itself
        return MessageStreamDefinition(
            name=self.dead_letters if lane is None else self.lanes[lane], max_size=cap,
            stream_segment_size=segment, strategy_on_full=StrategyOnFull.OverwriteOldestData,
            persistence=Persistence.File, flush_on_write=self.config.flush_on_write)

    def ensure(self, client: StreamClient) -> None:
        """Create the streams that are missing; bring the others to this definition."""
        existing = set(client.list_streams())
        for lane in (ALARM, TELEMETRY, None):
            definition = self.definition(lane)
            if definition.name not in existing:
                client.create_message_stream(definition)
                continue
            try:
                client.update_message_stream(definition)
            except InvalidRequestException as exc:  # e.g. UpdateNotAllowed: keep the stream as it is
                logger.warning("spool_stream_not_updated", extra={"stream": definition.name,
                                                                  "error": str(exc)})


def read_tail(client: StreamClient, stream: str, position: StreamPosition) -> Tail:
    """The messages of ``stream`` from the position's ``next_read`` on, less those acknowledged
    out of order; messages overwritten since are counted in ``dropped``."""
    status = client.describe_message_stream(stream).storage_status
    oldest, newest = status.oldest_sequence_number or 0, status.newest_sequence_number
    start = position.next_read.get(stream, 0)
    settled = set(position.acked_ahead.get(stream, ()))
    if newest is None or newest < oldest:
        newest = oldest - 1
    if newest + 1 < start:
        # Numbers never go back in a stream, so this one was made anew (deleted, or Stream
        # Manager's store lost): the position means nothing in it; read it all.
        logger.warning("spool_stream_renumbered", extra={
            "stream": stream, "next_read": start, "newest": newest,
            "action": "reading the stream from its oldest message"})
        start, settled = oldest, set()
        position = replace(position, next_read={**position.next_read, stream: oldest},
                           acked_ahead={**position.acked_ahead, stream: []})
    if oldest > start:
        lost = oldest - start - sum(1 for s in settled if start <= s < oldest)
        position = replace(position, dropped=position.dropped + lost)
        start = oldest
    next_append = max(start, newest + 1)
    last_seq, messages = position.last_seq, []
    while start <= newest:
        options = ReadMessagesOptions(desired_start_sequence_number=start, min_message_count=1,
                                      max_message_count=PAGE, read_timeout_millis=0)
        for message in client.read_messages(stream, options):
            start = message.sequence_number + 1
            if message.sequence_number in settled:
                continue
            try:
                batch = decode_batch(message.payload)
                if batch.epoch == position.epoch:
                    last_seq = max(last_seq, batch.seq)
            except EnvelopeError:
                pass  # take() moves it to the dead letters
            messages.append(StreamMessage(message.sequence_number, len(message.payload),
                                          (message.ingest_time or 0) / 1000))
    return Tail(messages, next_append, replace(position, last_seq=last_seq))
