"""The Stream Manager spool through the unmodified SDK client against the local Stream Manager
server (tests/fixtures/stream_manager.py): stream layout, positions across restarts of the agent
and of Stream Manager (SIGKILL, file persistence), and what happens while it is unreachable."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from stream_manager import (
    MessageStreamDefinition,
    Persistence,
    ReadMessagesOptions,
    StrategyOnFull,
    StreamManagerClient,
)

from edge_agent.envelope import BatchKind, decode_batch
from edge_agent.errors import Rejected
from edge_agent.spool.config import StreamManagerSpoolConfig
from edge_agent.spool.stream_manager import StreamManagerSpool
from simulators.stream_manager.store import RECORD
from tests.contracts.spool_contract import batch_size, make_batch, put_all, take_seqs
from tests.fixtures.stream_manager import ServerProcess, ServerThread


def spool(tmp_path: Path, **options: object) -> StreamManagerSpool:
    config = StreamManagerSpoolConfig.model_validate(
        {"type": "stream_manager", "stream": "batches", "position_file": tmp_path / "pos.json", **options})
    return StreamManagerSpool(config)


def definition(client: StreamManagerClient, stream: str) -> MessageStreamDefinition:
    return client.describe_message_stream(stream).definition


def payload_seqs(client: StreamManagerClient, stream: str) -> list[int]:
    messages = client.read_messages(stream, ReadMessagesOptions(max_message_count=1000))
    return [decode_batch(m.payload).seq for m in messages]


async def test_streams_are_file_backed_flushed_and_recycle_their_oldest_data(
        stream_manager: ServerThread, tmp_path: Path) -> None:
    async with spool(tmp_path, max_bytes=8 * 1024 * 1024):
        pass
    with stream_manager.client() as client:
        assert set(client.list_streams()) == {"batches", "batches-alarms", "batches-rejected"}
        telemetry = definition(client, "batches")
        assert telemetry.max_size == 8 * 1024 * 1024
        assert telemetry.strategy_on_full == StrategyOnFull.OverwriteOldestData
        assert telemetry.persistence == Persistence.File
        assert telemetry.flush_on_write is True
        assert definition(client, "batches-alarms").max_size == 1024 * 1024


async def test_alarms_and_telemetry_go_to_their_own_streams(
        stream_manager: ServerThread, tmp_path: Path) -> None:
    async with spool(tmp_path) as sp:
        await put_all(sp, [1, 2])
        await sp.put(make_batch(sp.epoch, 3, kind=BatchKind.ALARM))
    with stream_manager.client() as client:
        assert payload_seqs(client, "batches") == [1, 2]
        assert payload_seqs(client, "batches-alarms") == [3]


async def test_restart_resumes_from_the_persisted_position(stream_manager: ServerThread, tmp_path: Path) -> None:
    async with spool(tmp_path) as sp:
        epoch = sp.epoch
        await put_all(sp, range(1, 6))
        assert await take_seqs(sp, 3) == [1, 2, 3]
        await sp.take()  # taken, never acknowledged
    saved = json.loads((tmp_path / "pos.json").read_text())
    assert saved["next_read"]["batches"] == 3  # stream sequence numbers start at 0
    assert (saved["epoch"], saved["last_seq"], saved["last_acked_seq"]) == (epoch, 5, 3)
    async with spool(tmp_path) as sp:
        assert (sp.epoch, sp.last_seq) == (epoch, 5)
        assert sp.stats().depth == 2
        assert await take_seqs(sp, 2) == [4, 5]


async def test_last_seq_is_recovered_from_the_stream_after_a_crash(
        stream_manager: ServerThread, tmp_path: Path) -> None:
    async with spool(tmp_path) as sp:
        epoch = sp.epoch
    with stream_manager.client() as client:  # as if put() appended and the agent died before saving
        for seq in (1, 2, 3):
            client.append_message("batches", make_batch(epoch, seq).encode())
    async with spool(tmp_path) as sp:
        assert sp.last_seq == 3
        assert await take_seqs(sp, 3) == [1, 2, 3]


async def test_overwrite_while_nobody_reads_is_counted_as_dropped(
        stream_manager: ServerThread, tmp_path: Path) -> None:
    cap = batch_size() * 12
    async with spool(tmp_path, max_bytes=cap) as sp:
        epoch = sp.epoch
    with stream_manager.client() as client:  # another writer fills the stream while this spool is down
        for seq in range(1, 61):
            client.append_message("batches", make_batch(epoch, seq).encode())
    async with spool(tmp_path, max_bytes=cap) as sp:
        stats = sp.stats()
        assert stats.dropped > 0
        assert stats.dropped + stats.depth == 60
        assert await take_seqs(sp, stats.depth) == list(range(61 - stats.depth, 61))
    async with spool(tmp_path, max_bytes=cap) as sp:
        assert sp.stats().dropped == stats.dropped


async def test_overwritten_head_is_skipped_and_counted_at_put(
        stream_manager: ServerThread, tmp_path: Path) -> None:
    async with spool(tmp_path, max_bytes=batch_size() * 12) as sp:
        await put_all(sp, range(1, 41))
        with stream_manager.client() as client:
            oldest = client.describe_message_stream("batches").storage_status.oldest_sequence_number
        assert oldest > 0
        assert sp.stats().dropped == oldest
        assert await take_seqs(sp, 1) == [oldest + 1]


async def test_rejected_batches_go_to_the_dead_letter_stream(
        stream_manager: ServerThread, tmp_path: Path) -> None:
    async with spool(tmp_path) as sp:
        await put_all(sp, [1, 2])
        _, ack = await sp.take()
        await ack(Rejected("too large"))
        assert sp.stats().rejected == 1
        assert await take_seqs(sp, 1) == [2]
    with stream_manager.client() as client:
        assert payload_seqs(client, "batches-rejected") == [1]


async def test_unreadable_position_file_is_moved_aside_and_a_new_epoch_starts(
        stream_manager: ServerThread, tmp_path: Path) -> None:
    async with spool(tmp_path) as sp:
        old_epoch = sp.epoch
        await put_all(sp, [1, 2])
        await take_seqs(sp, 2)
    (tmp_path / "pos.json").write_text("{not json")
    async with spool(tmp_path) as sp:
        assert sp.epoch != old_epoch
        assert sp.last_seq == 0
        assert sp.stats().depth == 2  # re-read from the oldest message: delivered at least once
    assert [n for n in os.listdir(tmp_path) if n.startswith("pos.json.corrupt-")]


async def test_reject_new_gives_the_streams_headroom_for_acknowledged_data(
        stream_manager: ServerThread, tmp_path: Path) -> None:
    async with spool(tmp_path, max_bytes=64 * 1024, when_full="reject_new"):
        pass
    with stream_manager.client() as client:
        assert definition(client, "batches").max_size == 128 * 1024


async def test_a_stream_made_anew_is_read_from_its_start(stream_manager: ServerThread, tmp_path: Path) -> None:
    """Stream Manager's store lost (or the streams deleted) while the agent was down: sequence
    numbers start again at 0, below the saved position; nothing put afterwards may be skipped."""
    async with spool(tmp_path) as sp:
        await put_all(sp, range(1, 6))
        await take_seqs(sp, 5)
    with stream_manager.client() as client:
        for stream in client.list_streams():
            client.delete_message_stream(stream)
    async with spool(tmp_path) as sp:
        await put_all(sp, [6, 7])
    async with spool(tmp_path) as sp:
        assert sp.stats().depth == 2
        assert await take_seqs(sp, 2) == [6, 7]


async def test_stream_manager_killed_and_restarted_loses_nothing_acknowledged(
        stream_manager_process: ServerProcess, tmp_path: Path) -> None:
    async with spool(tmp_path) as sp:
        await put_all(sp, range(1, 11))
        assert await take_seqs(sp, 3) == [1, 2, 3]
        batch, ack = await sp.take()  # in flight across the restart
        await asyncio.to_thread(stream_manager_process.kill_and_restart)
        await put_all(sp, range(11, 14))  # the SDK client reconnects
        await ack(None)
        assert await take_seqs(sp, 9) == list(range(5, 14))
        assert batch.seq == 4
    await asyncio.to_thread(stream_manager_process.kill_and_restart)
    async with spool(tmp_path) as sp:  # and the agent restarts too
        stats = sp.stats()
        assert (stats.depth, sp.last_seq, stats.last_acked_seq, stats.dropped) == (0, 13, 13, 0)
        await put_all(sp, [14])
        assert await take_seqs(sp, 1) == [14]


async def test_unacknowledged_batches_survive_a_stream_manager_kill(
        stream_manager_process: ServerProcess, tmp_path: Path) -> None:
    async with spool(tmp_path) as sp:
        await put_all(sp, range(1, 21))
        await take_seqs(sp, 5)
    await asyncio.to_thread(stream_manager_process.kill_and_restart)
    async with spool(tmp_path) as sp:
        assert await take_seqs(sp, 15) == list(range(6, 21))


async def test_put_and_take_wait_while_stream_manager_is_down(
        stream_manager_process: ServerProcess, tmp_path: Path) -> None:
    async with spool(tmp_path) as sp:
        await put_all(sp, [1])
        await asyncio.to_thread(stream_manager_process.kill)
        put = asyncio.create_task(sp.put(make_batch(sp.epoch, 2)))
        await asyncio.sleep(1.0)
        assert not put.done(), "put waits for Stream Manager rather than failing"
        assert sp.counters.snapshot()["stream_manager_unreachable"] == 1
        await asyncio.to_thread(stream_manager_process.start)
        await asyncio.wait_for(put, timeout=60)
        assert await take_seqs(sp, 2) == [1, 2]


@pytest.mark.parametrize("persistence", [Persistence.File, Persistence.Memory])
async def test_persistence_decides_what_a_kill_leaves(
        stream_manager_process: ServerProcess, persistence: Persistence) -> None:
    def run() -> list[str]:
        with stream_manager_process.client() as client:
            client.create_message_stream(MessageStreamDefinition(
                name="s", persistence=persistence, flush_on_write=True,
                strategy_on_full=StrategyOnFull.RejectNewData))
            assert [client.append_message("s", b"m%d" % i) for i in range(3)] == [0, 1, 2]
        stream_manager_process.kill_and_restart()
        with stream_manager_process.client() as client:
            if persistence == Persistence.File:
                assert client.append_message("s", b"m3") == 3, "numbers continue after a restart"
                assert [m.payload for m in client.read_messages(
                    "s", ReadMessagesOptions(max_message_count=10))] == [b"m0", b"m1", b"m2", b"m3"]
            return list(client.list_streams())

    streams = await asyncio.to_thread(run)
    assert streams == (["s"] if persistence == Persistence.File else [])


async def test_a_message_stream_manager_cannot_read_is_dropped_and_counted(
        stream_manager: ServerThread, tmp_path: Path) -> None:
    async with spool(tmp_path) as sp:
        await put_all(sp, [1, 2, 3])
        (segment,) = (stream_manager.store / b"batches".hex()).glob("*.seg")
        data = bytearray(segment.read_bytes())
        data[RECORD.size + 10] ^= 0xFF  # inside the first record's payload
        segment.write_bytes(bytes(data))
        assert await take_seqs(sp, 2) == [2, 3]
        stats = sp.stats()
        assert (stats.dropped, stats.depth) == (1, 0)
