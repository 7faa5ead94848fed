"""Audit export of two years of one reefer trailer: time to export (CSV, excursions, gaps, PDF,
chain proof) and to verify the export against the archive, beside the time to verify the archive.

The archive is built the way the lake builds it — one Parquet file per day partition, each sealed
into the chain before its rename — but written with pyarrow directly from generated arrays
(compressed time: two years are generated in seconds). The trailer reports its return air every
30 s, its setpoint and door every 5 minutes, with a few excursions, door openings, a dead zone
delivered late and a true gap a month. Ten other trailers share each file (their rows are read
and filtered out, as in a real fleet's partitions).

    .venv/bin/python bench/audit.py [--days N] [--trailers N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from cloud.audit.archive import Archive
from cloud.audit.export import ExportSpec, export, verify_export
from cloud.audit.verify import verify_archive

DAY = 86_400_000
START = 1_735_689_600_000  # 2025-01-01T00:00:00Z
DEVICE = "reefer-0042"


def day_table(day: int, trailers: int, rng: np.random.Generator) -> pa.Table:
    t0 = START + day * DAY
    temp_t = t0 + np.arange(0, DAY, 30_000, dtype=np.int64)
    base = -20.0 + rng.normal(0, 0.3, len(temp_t))
    if day % 9 == 3:  # a warm hour
        base[1000:1120] += np.linspace(0, 6, 120)
    slow_t = t0 + np.arange(0, DAY, 300_000, dtype=np.int64)
    door = np.zeros(len(slow_t))
    door[(day * 7) % len(slow_t)] = 1.0
    devices, points, times, values = [], [], [], []
    for trailer in range(trailers + 1):
        name = DEVICE if trailer == 0 else f"reefer-{1000 + trailer}"
        for point, t, v in (("reefer_return_air", temp_t, base + trailer * 0.01),
                            ("reefer_setpoint", slow_t, np.full(len(slow_t), -20.0)),
                            ("reefer_door_open", slow_t, door)):
            keep = np.ones(len(t), dtype=bool)
            if day % 30 == 17:  # a true gap of two hours
                keep &= (t < t0 + 10 * 3_600_000) | (t >= t0 + 12 * 3_600_000)
            devices.append(np.full(keep.sum(), name, dtype=object))
            points.append(np.full(keep.sum(), point, dtype=object))
            times.append(t[keep])
            values.append(v[keep])
    n = sum(len(t) for t in times)
    return pa.table({
        "device": pa.array(np.concatenate(devices), pa.string()),
        "point": pa.array(np.concatenate(points), pa.string()),
        "t": pa.array(np.concatenate(times), pa.int64()),
        "kind": pa.array(np.full(n, "reading", dtype=object), pa.string()),
        "value": pa.array(np.concatenate(values), pa.float64()),
        "text": pa.nulls(n, pa.string()), "q": pa.array(np.zeros(n, dtype=np.int8)),
        "epoch": pa.array(np.full(n, "e1", dtype=object), pa.string()),
        "seq": pa.array(np.arange(n, dtype=np.int64)),
    })


def build(root: Path, days: int, trailers: int) -> int:
    rng = np.random.default_rng(7)
    archive = Archive(root)
    archive.open()
    rows = 0
    for day in range(days):
        table = day_table(day, trailers, rng)
        date = time.strftime("%Y-%m-%d", time.gmtime((START + day * DAY) / 1000))
        folder = root / "site=fleet" / f"date={date}"
        folder.mkdir(parents=True, exist_ok=True)
        tmp, name = folder / f".part-{day:012d}.tmp", f"part-{day:012d}-{day:012d}.parquet"
        pq.write_table(table, tmp, compression="zstd")
        t = table["t"].to_numpy()
        archive.seal(f"site=fleet/date={date}", tmp, name, rows=table.num_rows, t_min=int(t.min()),
                     t_max=int(t.max()))
        tmp.rename(folder / name)
        rows += table.num_rows
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--trailers", type=int, default=10, help="other trailers in each file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root, out = Path(tmp) / "lake", Path(tmp) / "load"
        began = time.perf_counter()
        rows = build(root, args.days, args.trailers)
        built = time.perf_counter() - began
        spec = ExportSpec(device=DEVICE, start=START, end=START + args.days * DAY, late_after=10 * 86_400)
        summary, exported = timed(lambda: export(root, spec, out))
        _, checked = timed(lambda: verify_export(out, root))
        _, archive_only = timed(lambda: verify_archive(root))
        size = sum(p.stat().st_size for p in out.iterdir()) / 1e6
    print(f"archive: {args.days} days, {rows:,} rows ({args.trailers + 1} trailers), built in {built:.1f} s")
    print(f"export of {DEVICE}: {summary.records:,} records, {summary.excursions} excursions, "
          f"{summary.door_openings} door openings, {summary.gaps} gaps, {size:.1f} MB: {exported}")
    print(f"verify export against the archive: {checked}; verify the archive alone: {archive_only}")


T = TypeVar("T")


def timed(work: Callable[[], T]) -> tuple[T, str]:
    """The result, and wall and CPU seconds (all threads) as text: on a loaded machine the wall
    time says little, the CPU time is what the work costs."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, f"{time.perf_counter() - wall:.1f} s wall, {time.process_time() - cpu:.1f} s CPU"


if __name__ == "__main__":
    main()
