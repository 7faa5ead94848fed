"""Where processors read: the stream split into partitions keyed by device, read in order.

- Embedded log: a partition is a shard (the partition key is the device, so one device's
  records are in one shard, in order); the position is the shard's sequence number.
- NATS JetStream: the stream is one ordered sequence; partition ``p`` holds the devices whose
  subject token hashes to ``p`` (the same MD5 slice as a Kinesis shard), and its position is the
  stream sequence it has read to. Each partition reads the stream and skips other devices'
  messages: N workers read it N times (nats-server 2.10's subject-mapping partitions would avoid
  that; the servers packaged here are 2.9).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cloud.stream.log import StreamLog, shard_for


@dataclass(frozen=True, slots=True)
class Chunk:
    """Records of one partition after a position, and the position they reach."""

    payloads: list[bytes]
    position: int


class PartitionedSource(Protocol):
    partitions: int

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def read(self, partition: int, after: int, limit: int) -> Chunk: ...


class EmbeddedSource:
    """The embedded stream log, read-only from the processor's process."""

    def __init__(self, root: Path) -> None:
        shards = len(list(root.glob("shard-*")))
        if not shards:
            raise FileNotFoundError(f"no stream at {root}")
        self.log = StreamLog(root, shards=shards, readonly=True)
        self.partitions = shards

    async def start(self) -> None:
        self.log.open()

    async def stop(self) -> None:
        return None

    async def read(self, partition: int, after: int, limit: int) -> Chunk:
        records = await self.log.read(partition, after_seq=after, limit=limit)
        return Chunk([r.data for r in records], records[-1].seq if records else after)


class NatsSource:
    """A JetStream stream made by the rules engine's ``stream`` action (subjects
    ``<prefix>.<stream>.<device>``), read in ``partitions`` partitions."""

    def __init__(self, servers: list[str], stream: str, *, partitions: int = 4,
                 subject_prefix: str = "edgeferry") -> None:
        self.servers = servers
        self.stream = stream
        self.subject_prefix = subject_prefix
        self.partitions = partitions
        self._nc: Any = None
        self._js: Any = None
        self._subs: dict[int, tuple[Any, int]] = {}
        """partition -> (pull subscription, next stream sequence it will deliver)."""

    async def start(self) -> None:
        import nats

        self._nc = await nats.connect(servers=self.servers, connect_timeout=5, max_reconnect_attempts=-1)
        self._js = self._nc.jetstream()

    async def stop(self) -> None:
        for sub, _ in self._subs.values():
            await sub.unsubscribe()
        self._subs.clear()
        if self._nc is not None:
            await self._nc.drain()
            self._nc = None

    async def _subscription(self, partition: int, after: int) -> Any:
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

        held = self._subs.get(partition)
        if held is not None and held[1] == after + 1:
            return held[0]
        if held is not None:
            await held[0].unsubscribe()
        config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=after + 1,
                                ack_policy=AckPolicy.NONE, inactive_threshold=60.0)
        sub = await self._js.pull_subscribe(f"{self.subject_prefix}.{self.stream}.>", durable=None,
                                            stream=self.stream, config=config)
        self._subs[partition] = (sub, after + 1)
        return sub

    async def read(self, partition: int, after: int, limit: int) -> Chunk:
        from nats.errors import TimeoutError as NatsTimeout

        sub = await self._subscription(partition, after)
        try:
            messages = await sub.fetch(limit, timeout=0.5)
        except (NatsTimeout, TimeoutError):  # nats-py raises either when nothing is pending
            return Chunk([], after)
        payloads, position = [], after
        for message in messages:
            position = int(message.metadata.sequence.stream)
            device = message.subject.split(".", 2)[2]
            if shard_for(device, self.partitions) == partition:
                payloads.append(message.data)
        self._subs[partition] = (sub, position + 1)
        return Chunk(payloads, position)
