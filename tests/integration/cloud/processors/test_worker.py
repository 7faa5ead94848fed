"""Processor workers on the embedded stream: windows into the time-series store, late readings
as dead letters, replay determinism, and SIGKILL / restart / consumer-group takeover that
neither lose nor repeat an alarm (real worker processes through the CLI)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from cloud.stores.sql import SqlDatabase
from cloud.stores.timeseries import TimeseriesStore
from cloud.stream.log import StreamLog
from tests.fixtures.broker import wait_until
from tests.integration.cloud.processors.fleet_stream import (
    alarm_history,
    group_owners,
    outbox_ids,
    processed,
    processors_file,
    query,
    run_in_process,
    wait_until_processed,
    write_fleet,
)
from tests.unit.cloud.processors.scenarios import trailer

TRAILERS = 24


def spawn(tmp: Path, stream: Path, state: Path, *extra: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "edgeferry", "--log-level", "WARNING", "cloud", "processors", "run",
           "--config", str(processors_file(tmp)), "--state", str(state), "--stream", str(stream),
           "--data", str(tmp / "worker-data"), *extra]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def test_windows_reach_the_timeseries_store_and_late_readings_become_dead_letters(tmp_path: Path) -> None:
    stream = tmp_path / "stream"
    log = StreamLog(stream, shards=2)
    log.open()
    start = int(time.time() * 1000) // 300_000 * 300_000 - 3_600_000  # within the store's retention
    batches = list(trailer("r1", [-17.5] * 40, start=start))  # 20 minutes of samples, 4 batches
    late = batches[0]  # sent again under a new seq after the windows closed: late
    for b in batches:
        await log.put(b.device, b.encode(), key=f"r1/e1/{b.seq}")
    resent = type(late)(**{**{f: getattr(late, f) for f in late.__dataclass_fields__}, "seq": 99})
    await log.put("r1", resent.encode(), key="r1/e1/99")
    await log.put("r1", b"garbage", key="r1/raw/1")
    log.close()
    state = await run_in_process(tmp_path, stream, 6, "windows")

    store = TimeseriesStore(SqlDatabase(path=tmp_path / "windows-data" / "timeseries.db"), retention=10**10)
    store.open()
    try:
        rows = await store.series("r1", "reefer_return_air#avg5m")
    finally:
        store.close()
    # 20 minutes of readings: the watermark (last reading - 30 s) less 5 minutes of lateness
    # has passed the end of the first two 5-minute windows only
    assert [r.t - start for r in rows] == [0, 300_000]
    assert all(r.kind == "window" and r.w == 300_000 and r.avg == -17.5 for r in rows)
    letters = query(state, "SELECT reason FROM proc_dead_letters")
    assert ("late",) in letters
    assert any("not JSON" in str(r) for (r,) in letters)
    # the resent batch: 10 samples of the 2 windowed points it has (return air, speed)
    assert len([1 for (r,) in letters if r == "late"]) == 2 * 10
    shown = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "edgeferry", "cloud", "processors", "dead-letters",
                         "--state", str(state)], capture_output=True, text=True, timeout=120)
    assert shown.stdout.splitlines()[-1] == "21 dead letters"
    assert '"window": "avg5m", "device": "r1", "point": "reefer_return_air"' in shown.stdout


async def test_replaying_the_recorded_stream_gives_exactly_the_same_alarms(tmp_path: Path) -> None:
    stream = tmp_path / "stream"
    total = await write_fleet(stream, TRAILERS)
    first = await run_in_process(tmp_path, stream, total, "first")
    second = await run_in_process(tmp_path, stream, total, "replay")
    history = alarm_history(first)
    raised = [h for h in history if h[3] == "raise"]
    assert len(raised) == 8 + 6  # trailers 0,3,..21 stay warm 15 min; 0,4,..20 open the door moving
    assert history == alarm_history(second)
    assert outbox_ids(first) == outbox_ids(second)


async def test_a_worker_killed_and_restarted_neither_loses_nor_repeats_an_alarm(tmp_path: Path) -> None:
    stream = tmp_path / "stream"
    total = await write_fleet(stream, TRAILERS)
    reference = await run_in_process(tmp_path, stream, total, "reference")
    state = tmp_path / "killed.db"
    for _ in range(3):  # SIGKILL three times at whatever point it has reached
        worker = spawn(tmp_path, stream, state)
        reached = processed(state)
        await wait_until(lambda: processed(state) > reached + 5 or worker.poll() is not None, 120)  # noqa: B023
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
    assert 0 < processed(state) < total, "the kills should land mid-stream"
    worker = spawn(tmp_path, stream, state)
    try:
        await wait_until_processed(state, total)
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0, worker.stderr.read().decode() if worker.stderr else ""
    assert alarm_history(state) == alarm_history(reference)
    assert outbox_ids(state) == outbox_ids(reference)
    assert query(state, "SELECT COUNT(*) FROM proc_outbox WHERE delivered = 0") == [(0,)]


async def test_a_consumer_group_takes_over_a_killed_workers_partitions(tmp_path: Path) -> None:
    whole, live = tmp_path / "stream", tmp_path / "live"
    total = await write_fleet(whole, TRAILERS, shards=6)
    reference = await run_in_process(tmp_path, whole, total, "reference")
    await write_fleet(live, TRAILERS, shards=6, rounds=slice(0, 5))
    state = tmp_path / "group.db"
    workers = [spawn(tmp_path, live, state, "--group", "--member", f"w{i}") for i in range(3)]
    try:
        # the three share the six partitions once they have all joined
        await wait_until(lambda: len(group_owners(state)) == 3, 120)
        owners = group_owners(state)
        os.kill(workers[0].pid, signal.SIGKILL)
        await write_fleet(live, TRAILERS, shards=6, rounds=slice(5, None))
        workers[0].wait(timeout=30)
        await wait_until_processed(state, total)
        survivors = {o for (o,) in query(state, "SELECT owner FROM proc_leases")}
    finally:
        for w in workers[1:]:
            w.send_signal(signal.SIGTERM)
            w.wait(timeout=60)
    assert sorted(n for _, n in owners) == [2, 2, 2]
    assert survivors <= {"w1", "w2"}
    assert alarm_history(state) == alarm_history(reference)
    assert outbox_ids(state) == outbox_ids(reference)
