"""Read back what the embedded stores of a rules run hold (through the stores' own APIs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cloud.stores.current_state import CurrentStateStore
from cloud.stores.dlq import DeadLetterQueue
from cloud.stores.lake import LakeStore
from cloud.stores.sql import SqlDatabase
from cloud.stores.timeseries import TimeseriesStore
from cloud.stream.log import StreamLog


async def stored(data: Path, *, shards: int = 2) -> dict[str, Any]:
    """Everything the embedded stores hold, read through their own APIs."""
    log = StreamLog(data / "stream" / "telemetry", shards=shards)
    log.open()
    stream = [r for shard in range(shards) for r in await log.read(shard)]
    log.close()
    lake = LakeStore(data / "lake" / "telemetry", partition_by=["site", "date"])
    lake.open()
    lake.close()
    ts = TimeseriesStore(SqlDatabase(path=data / "timeseries" / "telemetry.db"), retention=1e12)
    ts.open()
    rows = await ts.count()
    ts.close()
    state = CurrentStateStore(SqlDatabase(path=data / "current_state" / "current_state.db"))
    state.open()
    latest = await state.latest("pump-1")
    state.close()
    dlq = DeadLetterQueue(SqlDatabase(path=data / "dlq" / "dlq.db"))
    dlq.open()
    letters = await dlq.peek(100)
    dlq.close()
    return {"stream": stream, "lake": lake.table().num_rows, "timeseries": rows, "state": latest,
            "dlq": [letter.message for letter in letters]}
