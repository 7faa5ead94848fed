"""Numbering of outgoing batches: one seq space per device, shared by telemetry and alarms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from edge_agent.envelope import Batch, BatchKind, Reading, Value, Window


@dataclass(frozen=True, slots=True)
class EnvelopeHeader:
    """What every batch of one device carries: who it is and which spool epoch it belongs to."""

    device: str
    site: str
    asset_type: str
    epoch: str
    compact: bool = False
    """Batches in the compact form (``edgeferry.batch/2``)."""


class Outbox:
    """Hands out consecutive ``seq`` numbers and holds finished batches until they are taken.

    A batch is drafted with the next seq, checked by its maker, then posted: only a posted
    batch consumes its seq, so seqs stay consecutive even when a draft is split.
    """

    __slots__ = ("_next_seq", "_ready", "header")

    def __init__(self, header: EnvelopeHeader, next_seq: int) -> None:
        if next_seq < 1:
            raise ValueError("seq numbers start at 1")
        self.header = header
        self._next_seq = next_seq
        self._ready: list[Batch] = []

    @property
    def next_seq(self) -> int:
        return self._next_seq

    def draft(self, *, start: int, end: int, last: Mapping[str, Value | None],
              readings: Sequence[Reading] = (), windows: Sequence[Window] = (),
              alarms: Sequence[Mapping[str, Any]] = ()) -> Batch:
        """A batch numbered with the next seq; an alarm batch when ``alarms`` is not empty."""
        h = self.header
        return Batch(device=h.device, site=h.site, asset_type=h.asset_type, epoch=h.epoch,
                     seq=self._next_seq, start=start, end=end, readings=readings, windows=windows,
                     last=last, kind=BatchKind.ALARM if alarms else BatchKind.TELEMETRY,
                     alarms=alarms, compact=h.compact)

    def post(self, batch: Batch) -> None:
        """Queue a drafted batch for the caller; it must carry the next seq."""
        if batch.seq != self._next_seq:
            raise ValueError(f"batch seq {batch.seq} is not the next seq {self._next_seq}")
        self._next_seq += 1
        self._ready.append(batch)

    def take(self) -> list[Batch]:
        """Every batch posted since the last take, in seq order."""
        ready, self._ready = self._ready, []
        return ready
