"""MQTT publish throughput over one mTLS connection, and the drain of a spool backlog.

Starts its own local IoT Core rig (Mosquitto, mTLS) in a temporary directory and measures:

1. batches/s and KB/s through ``MqttSink`` with the rate limiter off and on, side by side, with
   CPU seconds per 1,000 batches (this process, awscrt's native threads included; the broker's
   CPU apart) and peak RSS;
2. the drain of a backlog from the SQLite spool through ``Forwarder`` + ``MqttSink`` at the rate
   limit (target: at least 95 % of the configured rate).

    .venv/bin/python bench/publish.py [--quick] [--batches N] [--backlog N] [--rate R]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
from rich.console import Console
from rich.table import Table

from cloud.rig import Rig
from edge_agent.envelope import Batch, Reading
from edge_agent.forwarder import Forwarder
from edge_agent.identity import Identity, IdentityConfig
from edge_agent.publish.config import MqttPublishConfig, RateLimit
from edge_agent.publish.mqtt import MqttSink
from edge_agent.spool.config import SqliteSpoolConfig

THING = "bench-pump"
READINGS_PER_BATCH = 85
"""~4.7 KB of JSON: one batch fills most of a 5 KB metering unit, as the aggregator sizes them."""


_READINGS = tuple(Reading(THING, f"pump{i % 10}.p{i // 10}", 1_700_000_000_000 + i, round(i * 1.37, 2))
                  for i in range(READINGS_PER_BATCH))


def make_batch(seq: int, epoch: str = "bench") -> Batch:
    """A batch of the usual size; the readings are shared, so building one costs next to nothing
    and the memory measured is the sink's, not the benchmark's."""
    t0 = 1_700_000_000_000 + seq * 1000
    return Batch(device=THING, site="station1", asset_type="pump", epoch=epoch, seq=seq, start=t0,
                 end=t0 + READINGS_PER_BATCH, readings=_READINGS, last={"pump0.p0": 0.0})


@dataclass
class Run:
    name: str
    batches: int
    payload_bytes: int
    seconds: float
    cpu: float
    broker_cpu: float
    configured: float | None = None
    peak_rss: float = 0.0
    """Peak RSS of this process (MiB) at the end of the run."""

    @property
    def rate(self) -> float:
        return self.batches / self.seconds


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def sink_config(rig: Rig, limit: RateLimit, window: int) -> MqttPublishConfig:
    return MqttPublishConfig(endpoint=rig.host, port=rig.port, connect_jitter=0, rate_limit=limit,
                             max_in_flight=window, publish_timeout=60)


class Meter:
    """Wall time, this process's CPU and the broker's CPU over a stretch of work."""

    def __init__(self, broker: psutil.Process) -> None:
        self.broker = broker

    def __enter__(self) -> Meter:
        self.t0, self.cpu0, self.broker0 = time.perf_counter(), time.process_time(), self._broker_cpu()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.t0
        self.cpu = time.process_time() - self.cpu0
        self.broker_cpu = self._broker_cpu() - self.broker0

    def _broker_cpu(self) -> float:
        times = self.broker.cpu_times()
        return float(times.user + times.system)


async def throughput(rig: Rig, identity: Identity, broker: psutil.Process, name: str, count: int,
                     limit: RateLimit, window: int) -> Run:
    batches = [make_batch(seq, epoch=name) for seq in range(1, count + 1)]
    payload = sum(len(b.encode()) for b in batches)
    async with MqttSink(sink_config(rig, limit, window), identity) as sink:
        await sink.wait_connected(30)
        queue = iter(batches)

        async def worker() -> None:
            for batch in queue:
                await sink.send(batch)

        with Meter(broker) as meter:
            await asyncio.gather(*(worker() for _ in range(window)))
    return Run(name, count, payload, meter.seconds, meter.cpu, meter.broker_cpu,
               limit.publishes_per_second if limit.enabled else None, peak_rss_mib())


async def idle_cpu_share(rig: Rig, identity: Identity, seconds: float) -> float:
    """Share of one core this process uses with a connected, idle sink (the fixed cost)."""
    config = sink_config(rig, RateLimit(), 100).model_copy(update={"keep_alive": 30.0})
    async with MqttSink(config, identity) as sink:
        await sink.wait_connected(30)
        started, cpu0 = time.perf_counter(), time.process_time()
        await asyncio.sleep(seconds)
        return (time.process_time() - cpu0) / (time.perf_counter() - started)


async def poll_until(condition: Callable[[], bool], interval: float = 0.05) -> None:
    while not condition():  # noqa: ASYNC110 - the forwarder exposes counters, not events
        await asyncio.sleep(interval)


async def drain(rig: Rig, identity: Identity, broker: psutil.Process, backlog: int, rate: float,
                window: int, directory: Path, console: Console) -> Run:
    spool = SqliteSpoolConfig(path=directory / "spool.db", max_bytes=4 * 1024**3).build()
    async with spool:
        started = time.perf_counter()
        first = spool.last_seq + 1
        for chunk in range(first, first + backlog, 1000):
            end = min(chunk + 1000, first + backlog)
            await asyncio.gather(*(spool.put(make_batch(seq, spool.epoch)) for seq in range(chunk, end)))
        console.print(f"spooled {backlog:,} batches in {time.perf_counter() - started:.1f} s; draining "
                      f"at {rate:g}/s (about {backlog / rate:.0f} s)")
        payload = spool.stats().bytes
        limit = RateLimit(publishes_per_second=rate)
        async with MqttSink(sink_config(rig, limit, window), identity) as sink:
            await sink.wait_connected(30)
            forwarder = Forwarder(spool, sink, window=window)
            with Meter(broker) as meter:
                task = asyncio.create_task(forwarder.run())
                await poll_until(lambda: forwarder.counters.get("acked") >= backlog)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert spool.stats().depth == 0, spool.stats()
    return Run(f"drain {backlog:,} from SQLite spool", backlog, payload, meter.seconds, meter.cpu,
               meter.broker_cpu, rate, peak_rss_mib())


def encode_cost_ms(count: int = 500) -> float:
    """CPU ms to encode one batch to its JSON payload (part of every send: the sink encodes)."""
    batches = [make_batch(seq) for seq in range(count)]
    started = time.process_time()
    for batch in batches:
        batch.encode()
    return (time.process_time() - started) / count * 1000


def report(console: Console, runs: list[Run]) -> None:
    table = Table(title=f"MQTT publish over one mTLS connection (QoS 1, {READINGS_PER_BATCH} readings/batch)")
    for column in ("run", "batches", "seconds", "batches/s", "KB/s", "of limit", "CPU s / 1k batches",
                   "broker CPU s / 1k", "peak RSS MiB"):
        table.add_column(column, justify="left" if column == "run" else "right")
    for run in runs:
        table.add_row(
            run.name, f"{run.batches:,}", f"{run.seconds:.2f}", f"{run.rate:,.1f}",
            f"{run.payload_bytes / 1024 / run.seconds:,.1f}",
            f"{run.rate / run.configured:.1%}" if run.configured else "-",
            f"{run.cpu / run.batches * 1000:.3f}", f"{run.broker_cpu / run.batches * 1000:.3f}",
            f"{run.peak_rss:.0f}",
        )
    console.print(table)
    console.print(f"average payload "
                  f"{runs[0].payload_bytes / runs[0].batches / 1024:.2f} KB; of the CPU per batch, "
                  f"{encode_cost_ms():.3f} ms is encoding the envelope to JSON")


async def main(args: argparse.Namespace) -> None:
    console = Console(width=150)
    with tempfile.TemporaryDirectory(prefix="bench-publish-") as tmp:
        directory = Path(tmp)
        rig = Rig(directory / "rig").start()
        try:
            broker = psutil.Process(rig.status()["pid"])
            identity = Identity.load(IdentityConfig(dir=rig.issue_identity(THING, directory / "id")), THING)
            runs = [
                await throughput(rig, identity, broker, "rate limit off", args.batches,
                                 RateLimit(enabled=False), args.window),
                await throughput(rig, identity, broker, "rate limit on (100/s, 512 KiB/s)",
                                 max(200, args.batches // 20), RateLimit(), args.window),
            ]
            if args.backlog:
                runs.append(await drain(rig, identity, broker, args.backlog, args.rate, args.window,
                                        directory, console))
            idle = await idle_cpu_share(rig, identity, 3.0 if args.quick else 10.0)
            report(console, runs)
            console.print(f"idle connected sink: {idle:.1%} of a core")
        finally:
            rig.stop()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short run: fewer batches, small backlog")
    parser.add_argument("--batches", type=int, default=None, help="batches for the throughput runs")
    parser.add_argument("--backlog", type=int, default=None, help="spool backlog to drain (0: skip)")
    parser.add_argument("--rate", type=float, default=100.0, help="publishes/s limit for the drain")
    parser.add_argument("--window", type=int, default=100, help="in-flight window (IoT Core allows 100)")
    args = parser.parse_args()
    if args.batches is None:
        args.batches = 4_000 if args.quick else 40_000
    if args.backlog is None:
        args.backlog = 1_000 if args.quick else 100_000
    return args


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
