"""A consumer group of worker processes on NATS JetStream: partitions keyed by device are shared,
a worker killed mid-stream has its partitions taken over, and the alarms are those of a single
uninterrupted worker — none lost, none doubled."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from cloud.stream.nats import NatsStream
from tests.fixtures.broker import wait_until
from tests.integration.cloud.processors.fleet_stream import (
    alarm_history,
    group_owners,
    outbox_ids,
    processed_by_nats,
    processors_file,
    run_in_process,
    temps_of,
    write_fleet,
)
from tests.unit.cloud.processors.scenarios import trailer

TRAILERS = 18


async def publish(servers: list[str], rounds: slice) -> int:
    stream = NatsStream(servers, "telemetry")
    await stream.start()
    count = 0
    try:
        batches = []
        for i in range(TRAILERS):
            temps, doors = temps_of(i)
            batches.append(list(trailer(f"reefer-{i:03d}", temps, door_at=doors)))
        for n in range(max(len(b) for b in batches))[rounds]:
            for own in batches:
                if n < len(own):
                    await stream.put(own[n].device, own[n].encode(), key=f"{own[n].device}/e1/{own[n].seq}")
                    count += 1
    finally:
        await stream.stop()
    return count


def spawn(tmp: Path, url: str, state: Path, member: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "edgeferry", "--log-level", "WARNING", "cloud", "processors", "run",
         "--config", str(processors_file(tmp)), "--state", str(state), "--nats", url, "--partitions", "4",
         "--data", str(tmp / "worker-data"), "--group", "--member", member],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def test_nats_workers_share_partitions_and_survive_a_kill(nats_url: str, tmp_path: Path) -> None:
    embedded = tmp_path / "embedded"
    total = await write_fleet(embedded, TRAILERS)
    reference = await run_in_process(tmp_path, embedded, total, "reference")

    first = await publish([nats_url], slice(0, 4))
    state = tmp_path / "group.db"
    workers = [spawn(tmp_path, nats_url, state, f"w{i}") for i in range(2)]
    try:
        await wait_until(lambda: len(group_owners(state)) == 2, 120)
        owners = group_owners(state)
        await wait_until(lambda: processed_by_nats(state) >= first, 120)
        os.kill(workers[0].pid, signal.SIGKILL)
        workers[0].wait(timeout=30)
        total_published = first + await publish([nats_url], slice(4, None))
        await wait_until(lambda: processed_by_nats(state) >= total_published, 240)
        await asyncio.sleep(0.5)
    finally:
        workers[1].send_signal(signal.SIGTERM)
        workers[1].wait(timeout=60)
    assert sorted(n for _, n in owners) == [2, 2]
    assert alarm_history(state) == alarm_history(reference)
    assert outbox_ids(state) == outbox_ids(reference)
