"""A named consumer of the embedded stream that resumes from its checkpoint after a restart.

The checkpoint (last processed sequence number per shard) is a small JSON file written to a
temporary name, fsynced and renamed, so it is either the old or the new one after a crash.
Delivery is at-least-once: records after the checkpoint come again until it is committed.
A consumer in another process than the rules runner reads through ``StreamLog(..., readonly=True)``.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Sequence

from cloud.stream.log import StreamLog, StreamRecord


class StreamConsumer:
    """Reads every shard of ``log`` after its checkpoint; :meth:`commit` moves the checkpoint."""

    def __init__(self, log: StreamLog, name: str) -> None:
        if not name.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"consumer name {name!r}: use letters, digits, - and _")
        self.log = log
        self.name = name
        self.path = log.root / "consumers" / f"{name}.json"
        self._checkpoint = self._load()

    def _load(self) -> dict[int, int]:
        try:
            saved = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        return {int(shard): int(seq) for shard, seq in saved.items()}

    def position(self, shard: int) -> int:
        """Last committed sequence number of a shard (0: nothing yet)."""
        return self._checkpoint.get(shard, 0)

    async def poll(self, limit: int = 1000, *, after: dict[int, int] | None = None) -> list[StreamRecord]:
        """Records after the checkpoint (or after ``after``), up to ``limit``, shard by shard, each
        shard in sequence order."""
        out: list[StreamRecord] = []
        for shard in range(self.log.shards):
            if len(out) >= limit:
                break
            start = (after or {}).get(shard, self.position(shard))
            out += await self.log.read(shard, after_seq=start, limit=limit - len(out))
        return out

    async def commit(self, records: Sequence[StreamRecord]) -> None:
        """Checkpoint past ``records`` (durably, before returning)."""
        for record in records:
            if record.seq > self.position(record.shard):
                self._checkpoint[record.shard] = record.seq
        await asyncio.to_thread(self._save)

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w") as f:
            json.dump({str(k): v for k, v in sorted(self._checkpoint.items())}, f)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(self.path)

    async def records(self, *, batch: int = 500, idle_wait: float = 1.0) -> AsyncIterator[list[StreamRecord]]:
        """Batches of new records, forever, from the checkpoint on; the caller commits each batch
        once it is handled (uncommitted ones come again after a restart)."""
        cursor = dict(self._checkpoint)
        while True:
            records = await self.poll(batch, after=cursor)
            for record in records:
                cursor[record.shard] = max(cursor.get(record.shard, 0), record.seq)
            if records:
                yield records
            else:
                await self.log.wait_for_append(idle_wait)
