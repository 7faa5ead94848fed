"""A recorded stream of scripted reefer trailers on the embedded log, and ways to read the
processors' results, for the worker tests."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import yaml

from cloud.processors.app import WorkerOptions, open_worker
from cloud.processors.model import load_config
from cloud.stream.log import StreamLog
from tests.fixtures.broker import wait_until
from tests.unit.cloud.processors.scenarios import EXAMPLES, SETPOINT, trailer

WARM, COLD = SETPOINT + 4.0, SETPOINT + 0.5


def temps_of(i: int) -> tuple[list[float], set[int]]:
    """Trailer ``i``'s return air (a sample every 30 s) and door-open samples: every third has a
    long excursion (an alarm), every third a short one (none), doors open while moving on some."""
    temps = [COLD] * 120
    if i % 3 == 0:
        temps[20 + i % 7:50 + i % 7] = [WARM] * 30       # 15 minutes warm
    elif i % 3 == 1:
        temps[30:38] = [WARM] * 8                         # 4 minutes warm
    doors = {60 + i % 11, 61 + i % 11} if i % 4 == 0 else set()
    return temps, doors


async def write_fleet(root: Path, trailers: int, *, shards: int = 4, rounds: slice = slice(None)) -> int:
    """Append every trailer's batches (those of ``rounds``: the n-th batch of each trailer is round
    n), interleaved as a fleet sends them; return the record count."""
    log = StreamLog(root, shards=shards)
    log.open()
    streams = []
    for i in range(trailers):
        temps, doors = temps_of(i)
        streams.append(list(trailer(f"reefer-{i:03d}", temps, door_at=doors)))
    count = 0
    try:
        for n in range(max(len(s) for s in streams))[rounds]:
            for batches in streams:
                if n < len(batches):
                    b = batches[n]
                    await log.put(b.device, b.encode(), key=f"{b.device}/{b.epoch}/{b.seq}")
                    count += 1
    finally:
        log.close()
    return count


def processors_file(directory: Path) -> Path:
    """The shipped reefer processors on event time, notifying the dead-letter queue (no broker)."""
    raw = yaml.safe_load((EXAMPLES / "reefer.yaml").read_text())
    raw["clock"] = "event"
    for model in raw["detectorModels"]:
        for alarm in model["alarms"]:
            alarm["notify"] = [{"dlq": {}}, {"currentState": {}}]
    path = directory / "processors.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def query(state: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(state, timeout=30) as db:
        return db.execute(sql).fetchall()


def processed(state: Path) -> int:
    """Records checkpointed so far (the sum of the shards' positions)."""
    if not state.exists():
        return 0
    try:
        return sum(int(p) for (p,) in query(state, "SELECT position FROM proc_positions"))
    except sqlite3.OperationalError:  # schema not created yet
        return 0


def processed_by_nats(state: Path) -> int:
    """Stream sequence every partition of a NATS consumer group has reached (the smallest)."""
    try:
        rows = query(state, "SELECT position FROM proc_positions")
    except sqlite3.OperationalError:
        return 0
    return min((int(p) for (p,) in rows), default=0) if len(rows) == 4 else 0


def alarm_history(state: Path) -> list[tuple[object, ...]]:
    return query(state, "SELECT occurrence, t, state, cause FROM proc_alarm_history "
                        "WHERE cause IN ('raise', 'clear') ORDER BY occurrence, t, state")


def outbox_ids(state: Path) -> list[str]:
    return sorted(str(i) for (i,) in query(state, "SELECT id FROM proc_outbox"))


async def wait_until_processed(state: Path, total: int, within: float = 240.0) -> None:
    await wait_until(lambda: processed(state) >= total, within, interval=0.2)


def group_owners(state: Path) -> list[tuple[object, ...]]:
    """(owner, partitions leased) of a consumer group, once it has started."""
    return query(state, "SELECT owner, COUNT(*) FROM proc_leases GROUP BY owner") if processed(state) else []


async def run_in_process(tmp: Path, stream: Path, total: int, name: str) -> Path:
    """Process the whole stream with one in-process worker; return its state database."""
    state = tmp / f"{name}.db"
    options = WorkerOptions(config=load_config(processors_file(tmp)), state=state, stream=stream,
                            data=tmp / f"{name}-data")
    stop = asyncio.Event()
    async with open_worker(options) as worker:
        task = asyncio.create_task(worker.run(stop))
        await wait_until_processed(state, total)
        stop.set()
        await task
    return state
