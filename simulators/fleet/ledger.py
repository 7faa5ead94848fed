"""The cloud's tally of what arrived: every batch counted once by (device, epoch, seq).

It plays the rules engine's part on the rig: an :class:`~cloud.rules.mqtt_attach.MqttAttachment`
subscribed with the cloud identity to basic ingest (``$aws/rules/#``), so it sees each batch the
broker acknowledged. A key seen again is a duplicate (a redelivery after a lost PUBACK).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from dataclasses import dataclass, field

from cloud.ledger import BatchLedger
from cloud.rig import Rig
from cloud.rules.mqtt_attach import MqttAttachment, MqttSettings
from edge_agent.envelope import EnvelopeError, decode_batch, metering_units

CLIENT_ID = "edgeferry-fleet-ledger"


@dataclass(slots=True)
class Ledger:
    """Counts batches by key (:class:`~cloud.ledger.BatchLedger`). ``ages`` holds, per run phase,
    each batch's age at arrival (arrival minus the batch's ``end``, its newest reading): at most
    the report interval plus the delivery time when the fleet keeps up."""

    book: BatchLedger = field(default_factory=BatchLedger)
    ages: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    phase: str = "start"
    only: frozenset[str] | None = None
    """Count only these devices (a shard of a fleet shares the broker with the other shards)."""
    metering_units: int = 0
    """5 KB units of the distinct batches, payload and topic together as IoT Core meters them."""
    payload_bytes: int = 0
    readings: int = 0
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def received(self) -> int:
        return self.book.unique

    @property
    def duplicates(self) -> int:
        return self.book.duplicates

    @property
    def malformed(self) -> int:
        return self.book.malformed

    async def count(self, topic: str, payload: bytes) -> None:
        """The attachment's handler: tally one message."""
        self.count_now(payload, time.time(), topic)

    def count_now(self, payload: bytes, arrived: float, topic: str = "") -> None:
        try:
            batch = decode_batch(payload)
        except EnvelopeError:
            self.book.malformed += 1
            return
        if self.only is not None and batch.device not in self.only:
            return
        if self.book.add(batch):
            self.ages[self.phase].append(arrived - batch.end / 1000)
            self.metering_units += metering_units(len(payload) + len(topic.encode()))
            self.payload_bytes += len(payload)
            self.readings += len(batch.readings)
            self._arrived.set()

    async def wait_for(self, count: int, within: float) -> bool:
        """Wait until ``count`` distinct batches have arrived; False if not within ``within`` s."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, within)):
                while self.received < count:
                    self._arrived.clear()
                    await self._arrived.wait()
        return self.received >= count

    def seqs(self, device: str, epoch: str) -> set[int]:
        return self.book.seqs(device, epoch)

    def attachment(self, rig: Rig, client_id: str = CLIENT_ID) -> MqttAttachment:
        """A subscriber on ``rig`` feeding this ledger (call ``start()`` / ``stop()`` on it)."""
        identity = rig.cloud_identity
        settings = MqttSettings(rig.host, rig.port, rig.ca_path, identity.cert_path, identity.key_path,
                                client_id=client_id)
        return MqttAttachment(settings, self.count, (), workers=1)
