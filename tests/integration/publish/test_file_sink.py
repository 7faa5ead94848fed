"""The file sink appends the wire payload durably, one line per batch, in the order sends were issued."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from edge_agent.envelope import Batch, Reading, decode_batch
from edge_agent.errors import Retryable
from edge_agent.publish.local import FileSink


def batch(seq: int) -> Batch:
    return Batch(device="d1", site="s", asset_type="pump", epoch="e1", seq=seq, start=0, end=1,
                 readings=(Reading("d1", "flow", 1, 1.5),), last={"flow": 1.5})


async def test_file_sink_appends_in_issue_order_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "out" / "batches.jsonl"
    async with FileSink(path) as sink:
        await asyncio.gather(*(sink.send(batch(seq)) for seq in range(1, 51)))
    async with FileSink(path) as sink:
        await sink.send(batch(51))
    seqs = [decode_batch(line).seq for line in path.read_bytes().splitlines()]
    assert seqs == list(range(1, 52))
    assert sink.counters.get("bytes") == len(batch(51).encode()) + 1


async def test_file_sink_refuses_sends_when_closed(tmp_path: Path) -> None:
    sink = FileSink(tmp_path / "x.jsonl")
    with pytest.raises(Retryable):
        await sink.send(batch(1))


async def test_file_sink_fsyncs_every_batch_before_acking(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        real_fsync(fd)
        synced.append(fd)

    monkeypatch.setattr("edge_agent.publish.local.os.fsync", counting_fsync)
    async with FileSink(tmp_path / "x.jsonl") as sink:
        for seq in (1, 2, 3):
            await sink.send(batch(seq))
            assert len(synced) == seq
