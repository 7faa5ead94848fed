"""Embedded cloud sinks: rows/s written, batches of 100 readings per write, each write durable.

Each sink gets the same agent-shaped batches (one device, 10 points x 10 polls = 100 readings,
~5 KB) one write at a time, awaiting each before the next, as the rules runner does: the stream
appends the whole batch (one fsync), the lake stages 100 rows (one SQLite commit; Parquet files
close every 100,000 rows), the time-series store inserts 100 raw rows plus rollups (one commit),
the current state upserts 10 points, the DLQ appends one message. "runner, 4 sinks" is the whole
path of ``RulesRunner.process`` with stream + lake + timeseries + current_state on one rule.
PostgreSQL (127.0.0.1:5432, db test) runs too when reachable. All run in one process on the same
disk: compare ratios rather than the absolute figures (the machine is shared).

    .venv/bin/python bench/sinks.py [--quick] [--batches N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from cloud.dlq import ActionFailure, ErrorActionMessage
from cloud.rules.rulesfile import parse_rules
from cloud.rules.runner import RulesRunner
from cloud.stores.current_state import CurrentStateStore
from cloud.stores.dlq import DeadLetterQueue
from cloud.stores.lake import LakeStore
from cloud.stores.records import Record, to_record
from cloud.stores.sql import SqlDatabase
from cloud.stores.timeseries import TimeseriesStore
from cloud.stream.log import StreamLog
from edge_agent.envelope import Batch, Reading

ROWS_PER_BATCH = 100
POINTS = [f"pump{p:02d}.{s}" for p in (1, 2) for s in ("flow", "pressure", "current", "temp", "vibration")]
PG_DSN = "host=127.0.0.1 port=5432 dbname=test user=postgres connect_timeout=3"


def make_batch(seq: int, rng: random.Random, device: str = "gw-0001") -> Batch:
    t0 = 1_795_000_000_000 + seq * 1000
    readings = tuple(Reading(device, name, t0 + 100 * poll, round(rng.uniform(0, 500), 1))
                     for poll in range(10) for name in POINTS)
    return Batch(device=device, site="plant1", asset_type="pumpstation", epoch="bench", seq=seq,
                 start=t0, end=t0 + 1000, readings=readings, last={r.point: r.v for r in readings})


@dataclass
class Result:
    sink: str
    batches: int
    seconds: float
    cpu: float

    @property
    def rows_per_second(self) -> float:
        return self.batches * ROWS_PER_BATCH / self.seconds


async def measure(name: str, batches: list[Batch], write: Callable[[Batch], Awaitable[Any]]) -> Result:
    start, cpu = time.perf_counter(), time.process_time()
    for batch in batches:
        await write(batch)
    return Result(name, len(batches), time.perf_counter() - start, time.process_time() - cpu)


def record(batch: Batch) -> Record:
    return to_record(json.loads(batch.encode()), timestamp=batch.end, device=batch.device)


async def run(batches: list[Batch], root: Path) -> list[Result]:
    results = []
    log = StreamLog(root / "stream", shards=4)
    log.open()
    results.append(await measure("stream (embedded log)", batches,
                                 lambda b: log.put(b.device, b.encode(), key=f"{b.device}/{b.epoch}/{b.seq}")))
    log.close()

    lake = LakeStore(root / "lake", partition_by=["site", "date"])
    lake.open()
    results.append(await measure("lake (Parquet, staged)", batches, lambda b: lake.write(record(b))))
    lake.close()

    ts = TimeseriesStore(SqlDatabase(path=root / "ts.db"), retention=1e12)
    ts.open()
    results.append(await measure("timeseries (SQLite)", batches, lambda b: ts.write(record(b))))
    ts.close()

    pg = _postgres()
    if pg is not None:
        pg_ts = TimeseriesStore(SqlDatabase(dsn=pg), retention=1e12)
        pg_ts.open()
        results.append(await measure("timeseries (PostgreSQL)", batches, lambda b: pg_ts.write(record(b))))
        pg_ts.close()

    state = CurrentStateStore(SqlDatabase(path=root / "state.db"), ttl=86400)
    state.open()
    results.append(await measure("current_state (SQLite)", batches, lambda b: state.write(record(b))))
    state.close()

    dlq = DeadLetterQueue(SqlDatabase(path=root / "dlq.db"))
    dlq.open()
    failure = [ActionFailure("KinesisAction", "telemetry", "bench")]
    results.append(await measure("dlq (SQLite)", batches, lambda b: dlq.put(
        ErrorActionMessage("r", "t", "c", b.encode(), failure).to_json())))
    dlq.close()

    rules = parse_rules({"dataDir": str(root / "runner"), "rules": [{
        "name": "telemetry", "sql": "SELECT * FROM 'dt/+/+/+/telemetry'",
        "actions": [{"stream": {"streamName": "telemetry"}}, {"lake": {}}, {"timeseries": {"retention": "3650d"}},
                    {"current_state": {}}], "errorAction": {"dlq": {}}}]})
    async with RulesRunner(rules) as runner:
        results.append(await measure("runner, 4 sinks", batches, lambda b: runner.process(_topic(b), b.encode())))
        results.append(await _devices_at_once(runner, batches, devices=4))
    return results


def _topic(batch: Batch) -> str:
    return f"$aws/rules/telemetry/dt/plant1/pumpstation/{batch.device}/telemetry"


async def _devices_at_once(runner: RulesRunner, batches: list[Batch], devices: int) -> Result:
    """As the MQTT attachment runs: one worker per device, each device's batches in order."""
    rng = random.Random(11)
    per_device = [[make_batch(seq, rng, f"gw-{d:04d}") for seq in range(1, len(batches) // devices + 1)]
                  for d in range(2, devices + 2)]

    async def worker(own: list[Batch]) -> None:
        for batch in own:
            await runner.process(_topic(batch), batch.encode())

    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker(own) for own in per_device))
    return Result(f"runner, 4 sinks, {devices} devices at once", sum(map(len, per_device)),
                  time.perf_counter() - start, time.process_time() - cpu)


def _postgres() -> str | None:
    try:
        import psycopg

        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
    except Exception:
        return None
    return f"{PG_DSN} options=-csearch_path={schema}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (100 batches)")
    parser.add_argument("--batches", type=int, default=None)
    args = parser.parse_args()
    count = args.batches or (100 if args.quick else 1000)
    rng = random.Random(7)
    batches = [make_batch(seq, rng) for seq in range(1, count + 1)]
    with tempfile.TemporaryDirectory(prefix="edgeferry-bench-sinks-") as tmp:
        results = asyncio.run(run(batches, Path(tmp)))
    table = Table(title=f"embedded sinks: {count} batches x {ROWS_PER_BATCH} rows, one durable write per batch")
    for column in ("sink", "rows/s", "batches/s", "ms/batch", "CPU s per 10k rows"):
        table.add_column(column, justify="right" if column != "sink" else "left")
    for r in results:
        table.add_row(r.sink, f"{r.rows_per_second:,.0f}", f"{r.batches / r.seconds:,.0f}",
                      f"{1000 * r.seconds / r.batches:.2f}", f"{r.cpu / (r.batches * ROWS_PER_BATCH) * 1e4:.3f}")
    Console().print(table)


if __name__ == "__main__":
    main()
