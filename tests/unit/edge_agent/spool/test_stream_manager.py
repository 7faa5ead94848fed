"""Stream Manager spool specifics, against the faithful fake server (tests/contracts)."""

import json
import os
from pathlib import Path

import pytest
from stream_manager import Persistence, ReadMessagesOptions, StrategyOnFull

from edge_agent.envelope import BatchKind, decode_batch
from edge_agent.errors import Rejected, Retryable
from edge_agent.spool.config import StreamManagerSpoolConfig
from edge_agent.spool.stream_manager import StreamManagerSpool
from tests.contracts.fake_stream_manager import FakeStreamManagerServer
from tests.contracts.spool_contract import batch_size, make_batch, put_all, take_seqs


@pytest.fixture
def server() -> FakeStreamManagerServer:
    return FakeStreamManagerServer()


def spool(server: FakeStreamManagerServer, tmp_path: Path, **options: object) -> StreamManagerSpool:
    config = StreamManagerSpoolConfig.model_validate(
        {"type": "stream_manager", "stream": "batches", "position_file": tmp_path / "pos.json", **options})
    return StreamManagerSpool(config, client_factory=server.client)


async def test_streams_are_file_backed_flushed_and_recycle_their_oldest_data(
        server: FakeStreamManagerServer, tmp_path: Path) -> None:
    async with spool(server, tmp_path, max_bytes=8 * 1024 * 1024):
        pass
    assert set(server.streams) == {"batches", "batches-alarms", "batches-rejected"}
    telemetry = server.streams["batches"].definition
    assert telemetry.max_size == 8 * 1024 * 1024
    assert telemetry.strategy_on_full == StrategyOnFull.OverwriteOldestData
    assert telemetry.persistence == Persistence.File
    assert telemetry.flush_on_write is True
    assert server.streams["batches-alarms"].definition.max_size == 1024 * 1024


async def test_alarms_and_telemetry_go_to_their_own_streams(
        server: FakeStreamManagerServer, tmp_path: Path) -> None:
    async with spool(server, tmp_path) as sp:
        await put_all(sp, [1, 2])
        await sp.put(make_batch(sp.epoch, 3, kind=BatchKind.ALARM))
    assert len(server.streams["batches"].messages()) == 2
    (alarm,) = server.streams["batches-alarms"].messages()
    assert decode_batch(alarm.payload).seq == 3


async def test_restart_resumes_from_the_persisted_position(
        server: FakeStreamManagerServer, tmp_path: Path) -> None:
    async with spool(server, tmp_path) as sp:
        epoch = sp.epoch
        await put_all(sp, range(1, 6))
        assert await take_seqs(sp, 3) == [1, 2, 3]
        await sp.take()  # taken, never acknowledged
    saved = json.loads((tmp_path / "pos.json").read_text())
    assert saved["next_read"]["batches"] == 3  # stream sequence numbers start at 0
    assert (saved["epoch"], saved["last_seq"], saved["last_acked_seq"]) == (epoch, 5, 3)
    async with spool(server, tmp_path) as sp:
        assert (sp.epoch, sp.last_seq) == (epoch, 5)
        assert sp.stats().depth == 2
        assert await take_seqs(sp, 2) == [4, 5]


async def test_last_seq_is_recovered_from_the_stream_after_a_crash(
        server: FakeStreamManagerServer, tmp_path: Path) -> None:
    async with spool(server, tmp_path) as sp:
        epoch = sp.epoch
    client = server.client()  # as if put() appended and the process died before saving anything
    for seq in (1, 2, 3):
        client.append_message("batches", make_batch(epoch, seq).encode())
    async with spool(server, tmp_path) as sp:
        assert sp.last_seq == 3
        assert await take_seqs(sp, 3) == [1, 2, 3]


async def test_overwrite_while_nobody_reads_is_counted_as_dropped(
        server: FakeStreamManagerServer, tmp_path: Path) -> None:
    cap = batch_size() * 12
    async with spool(server, tmp_path, max_bytes=cap) as sp:
        epoch = sp.epoch
    client = server.client()  # another writer fills the stream while this spool is down
    for seq in range(1, 61):
        client.append_message("batches", make_batch(epoch, seq).encode())
    async with spool(server, tmp_path, max_bytes=cap) as sp:
        stats = sp.stats()
        assert stats.dropped > 0
        assert stats.dropped + stats.depth == 60
        taken = await take_seqs(sp, stats.depth)
        assert taken == list(range(61 - stats.depth, 61))
    async with spool(server, tmp_path, max_bytes=cap) as sp:
        assert sp.stats().dropped == stats.dropped


async def test_overwritten_head_is_skipped_and_counted_at_put(
        server: FakeStreamManagerServer, tmp_path: Path) -> None:
    cap = batch_size() * 12
    async with spool(server, tmp_path, max_bytes=cap) as sp:
        await put_all(sp, range(1, 41))
        oldest = server.client().describe_message_stream("batches").storage_status.oldest_sequence_number
        assert oldest > 0
        assert sp.stats().dropped == oldest
        assert (await take_seqs(sp, 1))[0] == oldest + 1


async def test_put_failure_is_retryable_and_the_seq_can_be_put_again(
        server: FakeStreamManagerServer, tmp_path: Path) -> None:
    async with spool(server, tmp_path) as sp:
        await put_all(sp, [1])
        server.append_failures = 1
        with pytest.raises(Retryable, match="not reachable"):
            await sp.put(make_batch(sp.epoch, 2))
        assert sp.last_seq == 1
        await sp.put(make_batch(sp.epoch, 2))
        assert await take_seqs(sp, 2) == [1, 2]


async def test_rejected_batches_go_to_the_dead_letter_stream(
        server: FakeStreamManagerServer, tmp_path: Path) -> None:
    async with spool(server, tmp_path) as sp:
        await put_all(sp, [1, 2])
        _, ack = await sp.take()
        await ack(Rejected("too large"))
        assert sp.stats().rejected == 1
        assert await take_seqs(sp, 1) == [2]
    (dead,) = server.client().read_messages("batches-rejected", ReadMessagesOptions())
    assert decode_batch(dead.payload).seq == 1


async def test_unreadable_position_file_is_moved_aside_and_a_new_epoch_starts(
        server: FakeStreamManagerServer, tmp_path: Path) -> None:
    async with spool(server, tmp_path) as sp:
        old_epoch = sp.epoch
        await put_all(sp, [1, 2])
        await take_seqs(sp, 2)
    (tmp_path / "pos.json").write_text("{not json")
    async with spool(server, tmp_path) as sp:
        assert sp.epoch != old_epoch
        assert sp.last_seq == 0
        assert sp.stats().depth == 2  # re-read from the oldest message: delivered at least once
    assert [n for n in os.listdir(tmp_path) if n.startswith("pos.json.corrupt-")]


async def test_reject_new_gives_the_streams_headroom_for_acknowledged_data(
        server: FakeStreamManagerServer, tmp_path: Path) -> None:
    async with spool(server, tmp_path, max_bytes=64 * 1024, when_full="reject_new"):
        pass
    assert server.streams["batches"].definition.max_size == 128 * 1024
