"""The cloud-side account of what arrived: every batch by (device, epoch, seq), and every copy.

Delivery is at-least-once, so a batch may arrive more than once; the ledger tells unique batches
from duplicates and, given what each device produced, which batches are missing. Batches declare
how many batches of their epoch the device dropped (the envelope's ``dropped``), so the ledger
can also tell, from what it received alone, a gap that will never fill from one still on its way.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from edge_agent.envelope import Batch, EnvelopeError, decode_batch


@dataclass(frozen=True, slots=True)
class Produced:
    """What one device put into its spool: seqs ``first..last`` of ``epoch``, ``dropped`` of them
    dropped by the spool's declared full policy (counted there, so not lost)."""

    device: str
    epoch: str
    first: int
    last: int
    dropped: int = 0

    @property
    def count(self) -> int:
        return max(0, self.last - self.first + 1)


@dataclass(frozen=True, slots=True)
class Reconciliation:
    device: str
    produced: int
    received: int
    duplicates: int
    dropped: int
    missing: int
    """Produced, neither received nor accounted for as a declared drop."""
    declared: int = 0
    """Drops the device declared in the batches received (the largest ``dropped`` seen)."""


@dataclass
class BatchLedger:
    messages: int = 0
    malformed: int = 0
    _seqs: defaultdict[tuple[str, str], set[int]] = field(default_factory=lambda: defaultdict(set))
    _copies: Counter[str] = field(default_factory=Counter)
    _declared: dict[tuple[str, str], int] = field(default_factory=dict)

    def record(self, payload: bytes) -> bool:
        """Count one message; True if it is a batch not seen before."""
        self.messages += 1
        try:
            batch = decode_batch(payload)
        except EnvelopeError:
            self.malformed += 1
            return False
        return self.add(batch)

    def add(self, batch: Batch) -> bool:
        """Count one decoded batch; True if its key was not seen before."""
        key = (batch.device, batch.epoch)
        if batch.dropped > self._declared.get(key, 0):
            self._declared[key] = batch.dropped
        seqs = self._seqs[key]
        if batch.seq in seqs:
            self._copies[batch.device] += 1
            return False
        seqs.add(batch.seq)
        return True

    def seqs(self, device: str, epoch: str) -> set[int]:
        """The seqs of ``device`` and ``epoch`` received at least once."""
        return set(self._seqs.get((device, epoch), ()))

    def declared(self, device: str, epoch: str) -> int:
        """Batches of ``device`` and ``epoch`` the device declared it dropped (cumulative count)."""
        return self._declared.get((device, epoch), 0)

    def unexplained_gaps(self, device: str, epoch: str) -> int:
        """Seqs below the highest received that have not arrived, beyond the declared drops: batches
        that may still be on their way (or were lost, if nothing is)."""
        seqs = self._seqs.get((device, epoch), set())
        gaps = (max(seqs) - len(seqs)) if seqs else 0
        return max(0, gaps - self.declared(device, epoch))

    def copies(self, device: str) -> int:
        """How many times a batch of ``device`` arrived again (redeliveries)."""
        return self._copies[device]

    @property
    def unique(self) -> int:
        return sum(len(s) for s in self._seqs.values())

    @property
    def duplicates(self) -> int:
        return sum(self._copies.values())

    def reconcile(self, produced: Produced) -> Reconciliation:
        seqs = self._seqs.get((produced.device, produced.epoch), set())
        arrived = sum(1 for s in seqs if produced.first <= s <= produced.last)
        return Reconciliation(device=produced.device, produced=produced.count, received=arrived,
                              duplicates=self._copies[produced.device], dropped=produced.dropped,
                              missing=max(0, produced.count - arrived - produced.dropped),
                              declared=self.declared(produced.device, produced.epoch))
