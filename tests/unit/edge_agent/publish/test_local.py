"""Local sinks write exactly the wire payload, one line per batch, in the order sends were issued."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from edge_agent.envelope import Batch, Reading, decode_batch
from edge_agent.errors import Retryable
from edge_agent.interfaces import Sink
from edge_agent.publish.config import FilePublishConfig, StdoutPublishConfig
from edge_agent.publish.local import FileSink, StdoutSink


def batch(seq: int) -> Batch:
    return Batch(device="d1", site="s", asset_type="pump", epoch="e1", seq=seq, start=0, end=1,
                 readings=(Reading("d1", "flow", 1, 1.5),), last={"flow": 1.5})


async def test_stdout_sink_writes_one_json_line_per_batch() -> None:
    stream = io.BytesIO()
    async with StdoutSink(stream) as sink:
        assert isinstance(sink, Sink)
        for seq in (1, 2):
            await sink.send(batch(seq))
    lines = stream.getvalue().splitlines()
    assert [decode_batch(line).seq for line in lines] == [1, 2]
    assert lines[0] == batch(1).encode()
    assert sink.counters.get("acked") == 2


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


def test_configs_build_local_sinks(tmp_path: Path) -> None:
    assert isinstance(StdoutPublishConfig(type="stdout").build(None), StdoutSink)
    built = FilePublishConfig(type="file", path=tmp_path / "f").build(None)
    assert isinstance(built, FileSink)
    assert built.path == tmp_path / "f"
