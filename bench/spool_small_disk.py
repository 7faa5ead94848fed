"""An SQLite spool on a 2 MiB volume: how much of it the spool's files take, and whether it ever
meets the end of the volume, while a link that is mostly down drains now and then.

Mounts a tmpfs (needs root); prints, per ``max_bytes`` and policy, the peak bytes of the spool's
files (database, WAL, shared memory, reserve, high-water mark), batches stored, dropped by policy,
refused by the full disk, and the batches drained at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from edge_agent.envelope import Batch, Reading
from edge_agent.errors import SpoolFull
from edge_agent.spool.config import SqliteSpoolConfig
from edge_agent.spool.sqlite import SqliteSpool

MiB = 1024 * 1024


def batch(epoch: str, seq: int) -> Batch:
    """About 1-6 KB, varying, as raw bundles of a busy station are."""
    rows = tuple(Reading("dev", f"p{i}", 1_700_000_000_000 + seq * 1000 + i, i + seq / 10)
                 for i in range(20 + (seq * 7) % 90))
    return Batch(device="dev", site="s", asset_type="a", epoch=epoch, seq=seq, start=0, end=1, readings=rows)


def footprint(directory: Path) -> int:
    return sum(p.stat().st_blocks * 512 for p in directory.iterdir() if p.name.startswith("spool.db"))


async def run(directory: Path, max_bytes: int, when_full: str, rounds: int) -> dict[str, float]:
    config = SqliteSpoolConfig(path=directory / "spool.db", max_bytes=max_bytes, when_full=when_full)
    peak, refused, failed_acks, started = 0, 0, 0, time.perf_counter()
    async with SqliteSpool(config) as spool:
        seq = 0
        for round_ in range(rounds):
            for _ in range(150):
                seq += 1
                try:
                    await spool.put(batch(spool.epoch, seq))
                except SpoolFull:
                    refused += 1
                peak = max(peak, footprint(directory))
            for _ in range(min(spool.stats().depth, 5 + round_ * 3)):
                _, ack = await spool.take()
                try:
                    await ack(None)
                except SpoolFull:  # an ack that cannot commit leaves the batch in the spool
                    failed_acks += 1
        stats = spool.stats()
        drained = 0
        while spool.stats().depth and failed_acks < 1000:
            _, ack = await asyncio.wait_for(spool.take(), 10)
            try:
                await ack(None)
                drained += 1
            except SpoolFull:
                failed_acks += 1
        peak = max(peak, footprint(directory))
    return {"made": seq, "peak": peak, "refused": refused, "dropped": stats.dropped,
            "disk_full": getattr(stats, "disk_full", float("nan")), "drained": drained, "failed_acks": failed_acks,
            "seconds": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12, help="down/up cycles of 150 batches each")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root to mount a 2 MiB tmpfs")
    table = Table(title="SQLite spool on a 2 MiB tmpfs: 150 batches per outage, a few drained between")
    for column in ("max_bytes", "when_full", "batches made", "peak files (bytes)", "refused (SpoolFull)",
                   "dropped", "disk full", "drained at the end", "acks failed", "seconds"):
        table.add_column(column, justify="right")
    for max_bytes, when_full in [(2 * MiB - 64 * 1024, "drop_oldest"), (2 * MiB - 64 * 1024, "reject_new"),
                                 (64 * MiB, "drop_oldest")]:
        with tempfile.TemporaryDirectory() as tmp:
            disk = Path(tmp)
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], check=True)
            try:
                r = asyncio.run(run(disk, max_bytes, when_full, args.rounds))
            finally:
                subprocess.run(["umount", "-l", str(disk)], check=False)
        table.add_row(f"{max_bytes:,}", when_full, f"{r['made']:,.0f}", f"{r['peak']:,.0f}", f"{r['refused']:,.0f}",
                      f"{r['dropped']:,.0f}",
                      f"{r['disk_full']:,.0f}", f"{r['drained']:,.0f}", f"{r['failed_acks']:,.0f}", f"{r['seconds']:.1f}")
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
