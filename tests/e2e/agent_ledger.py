"""The cloud side of a durability test: what arrived at the rules engine, copy by copy.

:class:`CloudLedger` attaches to the rig as the rules runner does (``MqttAttachment``: the rig's
privileged cloud identity, subscribed to basic ingest ``$aws/rules/#``) and feeds a
:class:`~cloud.ledger.BatchLedger`. It also keeps, for every copy, when it arrived and a digest
of its payload: a redelivered batch is the same bytes again, whereas a reused seq would show as
one key with two different payloads.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections import defaultdict
from dataclasses import dataclass

from cloud.ledger import BatchLedger, Produced, Reconciliation
from cloud.rig import Rig
from cloud.rules.mqtt_attach import MqttAttachment, MqttSettings
from edge_agent.envelope import EnvelopeError, decode_batch

Key = tuple[str, str, int]


@dataclass(frozen=True, slots=True)
class Arrival:
    """One copy of one batch as the cloud received it."""

    at: float
    """``time.monotonic()`` in the test process."""
    topic: str
    key: Key
    digest: str
    readings: int


class CloudLedger:
    """Every batch the cloud received from the rig's basic-ingest topics."""

    def __init__(self, rig: Rig, *, client_id: str = "edgeferry-durability-ledger") -> None:
        cloud = rig.cloud_identity
        self.settings = MqttSettings(rig.host, rig.port, rig.ca_path, cloud.cert_path, cloud.key_path,
                                     client_id=client_id)
        self.ledger = BatchLedger()
        self.arrivals: list[Arrival] = []
        self.first: dict[Key, Arrival] = {}
        self.topics: set[str] = set()
        self._digests: defaultdict[Key, set[str]] = defaultdict(set)
        self._seqs: defaultdict[tuple[str, str], set[int]] = defaultdict(set)
        self._changed = asyncio.Event()
        self._attachment: MqttAttachment | None = None

    async def start(self) -> CloudLedger:
        self._attachment = MqttAttachment(self.settings, self._receive, [])
        await self._attachment.start()
        return self

    async def stop(self) -> None:
        if self._attachment is not None:
            await self._attachment.stop()
            self._attachment = None

    async def _receive(self, topic: str, payload: bytes, **publisher: str | None) -> None:
        self.ledger.record(payload)
        try:
            batch = decode_batch(payload)
        except EnvelopeError:
            return  # counted as malformed by the ledger
        arrival = Arrival(time.monotonic(), topic, batch.key, hashlib.sha256(payload).hexdigest(),
                          len(batch.readings))
        self.arrivals.append(arrival)
        self.first.setdefault(batch.key, arrival)
        self._seqs[(batch.device, batch.epoch)].add(batch.seq)
        self.topics.add(topic)
        self._digests[batch.key].add(arrival.digest)
        self._changed.set()

    # questions a test asks ----------------------------------------------------------------------

    def seqs(self, device: str, epoch: str) -> set[int]:
        """Seqs received at least once."""
        return set(self._seqs.get((device, epoch), ()))

    def epochs(self, device: str) -> set[str]:
        return {epoch for (d, epoch), seqs in self._seqs.items() if d == device and seqs}

    def first_arrival_order(self, device: str, epoch: str) -> list[int]:
        """Seqs in the order their first copy arrived."""
        return [a.key[2] for a in self.first.values() if a.key[0] == device and a.key[1] == epoch]

    def duplicate_seqs(self, device: str, epoch: str) -> set[int]:
        """Seqs that arrived more than once."""
        counts: defaultdict[int, int] = defaultdict(int)
        for arrival in self.arrivals:
            if arrival.key[0] == device and arrival.key[1] == epoch:
                counts[arrival.key[2]] += 1
        return {seq for seq, n in counts.items() if n > 1}

    def reused_keys(self) -> list[Key]:
        """Keys that arrived with different payloads: a seq used for two batches."""
        return sorted(k for k, digests in self._digests.items() if len(digests) > 1)

    def readings(self, device: str, epoch: str) -> int:
        """Readings carried by the distinct batches received."""
        return sum(a.readings for a in self.first.values() if a.key[0] == device and a.key[1] == epoch)

    def missing(self, produced: Produced) -> list[int]:
        """Seqs produced and never received (a declared drop is among them: tests check those)."""
        seqs = self.seqs(produced.device, produced.epoch)
        return [s for s in range(produced.first, produced.last + 1) if s not in seqs]

    async def wait_for(self, produced: Produced, within: float = 60.0) -> Reconciliation:
        """Wait until nothing ``produced`` is missing (or ``within`` passed); the reconciliation."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                while self.ledger.reconcile(produced).missing:
                    self._changed.clear()
                    await self._changed.wait()
        return self.ledger.reconcile(produced)

    async def wait_seqs(self, device: str, epoch: str, seqs: set[int], within: float) -> None:
        """Wait until every seq in ``seqs`` has arrived; TimeoutError otherwise."""
        received = self._seqs[(device, epoch)]
        async with asyncio.timeout(within):
            while not seqs <= received:
                self._changed.clear()
                await self._changed.wait()

    async def wait_count(self, count: int, within: float) -> None:
        """Wait until ``count`` distinct batches have arrived; TimeoutError otherwise."""
        async with asyncio.timeout(within):
            while len(self.first) < count:
                self._changed.clear()
                await self._changed.wait()


def ranges(seqs: list[int]) -> str:
    """``[3, 4, 5, 9]`` -> ``"3..5, 9"``: missing seqs, readable in an assertion message."""
    out: list[str] = []
    for seq in sorted(seqs):
        if out and seq == int(out[-1].rpartition("..")[2]) + 1:
            out[-1] = f"{out[-1].partition('..')[0]}..{seq}"
        else:
            out.append(str(seq))
    return ", ".join(out)
