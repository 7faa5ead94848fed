"""The embedded stream: shards by partition key hash, sequence numbers, durability, consumers."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloud.stores.filelock import StoreInUse
from cloud.stream.consumer import StreamConsumer
from cloud.stream.log import StreamLog, shard_for


async def test_records_go_to_the_shard_of_their_key_with_increasing_sequence_numbers(tmp_path: Path) -> None:
    log = StreamLog(tmp_path / "s", shards=4)
    log.open()
    records = [await log.put(f"dev-{i % 5}", f"m{i}".encode(), key=f"k{i}") for i in range(40)]
    assert all(records)
    appended = [r for r in records if r is not None]
    for record in appended:
        assert record.shard == shard_for(record.partition_key, 4)
    for shard in range(4):
        seqs = [r.seq for r in appended if r.shard == shard]
        assert seqs == list(range(1, len(seqs) + 1))
        assert [r.data for r in await log.read(shard)] == [r.data for r in appended if r.shard == shard]
    log.close()


async def test_a_key_is_appended_once_also_after_a_restart(tmp_path: Path) -> None:
    log = StreamLog(tmp_path / "s", shards=2)
    log.open()
    assert await log.put("a", b"x", key="pump-1/e1/7") is not None
    assert await log.put("a", b"y", key="sha256:abc") is not None
    log.close()
    again = StreamLog(tmp_path / "s", shards=2)
    again.open()
    assert await again.put("a", b"x", key="pump-1/e1/7") is None
    assert await again.put("a", b"y", key="sha256:abc") is None
    assert await again.put("a", b"z", key="pump-1/e1/8") is not None
    assert sorted([len(await again.read(s)) for s in range(2)]) == [0, 3]
    again.close()


async def test_a_torn_tail_is_cut_and_sequence_numbers_continue(tmp_path: Path) -> None:
    log = StreamLog(tmp_path / "s", shards=1)
    log.open()
    for i in range(3):
        await log.put("a", b"payload-%d" % i, key=f"k{i}")
    log.close()
    segment = next((tmp_path / "s" / "shard-0000").glob("*.seg"))
    with segment.open("ab") as f:
        f.write(b"\x00\x00\x01\x00garbage")
    again = StreamLog(tmp_path / "s", shards=1)
    again.open()
    record = await again.put("a", b"next", key="k3")
    assert record is not None
    assert record.seq == 4
    assert [r.data for r in await again.read(0)] == [b"payload-0", b"payload-1", b"payload-2", b"next"]
    again.close()


async def test_segments_roll_and_expire_after_the_retention(tmp_path: Path) -> None:
    log = StreamLog(tmp_path / "s", shards=1, segment_bytes=50, retention=3600)
    log.open()
    for i in range(10):
        await log.put("a", b"x" * 60, key=f"k{i}")
    segments = sorted((tmp_path / "s" / "shard-0000").glob("*.seg"))
    assert len(segments) == 10
    old = time.time() - 7200
    for path in segments[:4]:
        os.utime(path, (old, old))
    assert await log.expire() == 4
    assert [r.seq for r in await log.read(0)] == list(range(5, 11))
    assert await log.put("a", b"x", key="k0") is not None, "an expired key may come again"
    assert await log.put("a", b"x", key="k9") is None, "a retained key may not"
    log.close()


async def test_a_consumer_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    log = StreamLog(tmp_path / "s", shards=3)
    log.open()
    for i in range(20):
        await log.put(f"d{i}", b"%d" % i, key=f"k{i}")
    consumer = StreamConsumer(log, "lake-loader")
    batch = await consumer.poll(limit=8)
    assert len(batch) == 8
    await consumer.commit(batch)
    resumed = StreamConsumer(log, "lake-loader")
    rest = await resumed.poll(limit=100)
    assert len(rest) == 12
    assert {r.key for r in batch}.isdisjoint({r.key for r in rest})
    log.close()


async def test_consumer_iterator_wakes_on_new_records(tmp_path: Path) -> None:
    log = StreamLog(tmp_path / "s", shards=2)
    log.open()
    consumer = StreamConsumer(log, "c")
    seen: list[bytes] = []

    async def consume() -> None:
        async for batch in consumer.records(idle_wait=5.0):
            seen.extend(r.data for r in batch)
            await consumer.commit(batch)
            if len(seen) >= 3:
                return

    task = asyncio.create_task(consume())
    for i in range(3):
        await log.put("k", b"%d" % i, key=f"k{i}")
    await asyncio.wait_for(task, 30)
    assert seen == [b"0", b"1", b"2"]
    assert consumer.position(shard_for("k", 2)) == 3
    log.close()


def test_the_shard_count_cannot_change_and_there_is_one_writer(tmp_path: Path) -> None:
    log = StreamLog(tmp_path / "s", shards=2)
    log.open()
    with pytest.raises(StoreInUse, match="open for writing in another process"):
        StreamLog(tmp_path / "s", shards=2).open()
    log.close()
    with pytest.raises(ValueError, match="cannot change"):
        StreamLog(tmp_path / "s", shards=3).open()
    StreamLog(tmp_path / "s", shards=2).open()


async def test_reads_start_anywhere_in_a_segment_before_and_after_a_restart(tmp_path: Path) -> None:
    log = StreamLog(tmp_path / "s", shards=1)
    log.open()
    for i in range(300):
        await log.put("a", b"%d" % i, key=f"k{i}")
    for after in (0, 63, 64, 65, 150, 299):
        assert [r.seq for r in await log.read(0, after_seq=after, limit=10)] == list(range(after + 1, min(after + 11, 301)))
    log.close()
    again = StreamLog(tmp_path / "s", shards=1)
    again.open()
    assert [r.data for r in await again.read(0, after_seq=199, limit=3)] == [b"199", b"200", b"201"]
    again.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.lists(st.tuples(st.sampled_from(["pump-1", "pump-2", "reefer-1"]), st.integers(1, 8)),
                      min_size=1, max_size=30),
       restart_at=st.integers(min_value=0, max_value=30))
async def test_the_stream_holds_each_batch_once_under_any_redelivery_order(
        tmp_path_factory: pytest.TempPathFactory, order: list[tuple[str, int]], restart_at: int) -> None:
    root = tmp_path_factory.mktemp("stream")
    log = StreamLog(root, shards=3, segment_bytes=200)
    log.open()
    for i, (device, seq) in enumerate(order):
        if i == restart_at:
            log.close()
            log = StreamLog(root, shards=3, segment_bytes=200)
            log.open()
        await log.put(device, b"%s:%d" % (device.encode(), seq), key=f"{device}/e1/{seq}")
    held = [r for shard in range(3) for r in await log.read(shard, limit=1000)]
    log.close()
    assert sorted(r.key for r in held) == sorted({f"{d}/e1/{s}" for d, s in order})
    first_seen = list(dict.fromkeys(f"{d}/e1/{s}" for d, s in order))
    for device in ("pump-1", "pump-2", "reefer-1"):
        mine = [r.key for r in sorted(held, key=lambda r: r.seq) if r.partition_key == device]
        assert mine == [k for k in first_seen if k.startswith(device + "/")], "one device: arrival order"


async def test_a_consumer_in_another_process_reads_while_the_writer_appends(tmp_path: Path) -> None:
    writer = StreamLog(tmp_path / "s", shards=2, segment_bytes=300)
    writer.open()
    for i in range(10):
        await writer.put(f"d{i % 3}", b"%d" % i, key=f"k{i}")
    reader = StreamLog(tmp_path / "s", shards=2, readonly=True)  # stands for another process
    reader.open()
    consumer = StreamConsumer(reader, "processor")
    first = await consumer.poll(limit=100)
    assert sorted(r.data for r in first) == sorted(b"%d" % i for i in range(10))
    await consumer.commit(first)
    for i in range(10, 25):
        await writer.put(f"d{i % 3}", b"%d" % i, key=f"k{i}")
    second = await consumer.poll(limit=100)
    assert sorted(int(r.data) for r in second) == list(range(10, 25)), "new records and new segments"
    with pytest.raises(PermissionError):
        await reader.put("x", b"x", key="nope")
    writer.close()
    with pytest.raises(FileNotFoundError):
        StreamLog(tmp_path / "none", shards=2, readonly=True).open()
