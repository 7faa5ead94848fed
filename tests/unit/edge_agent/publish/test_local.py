"""The stdout sink writes exactly the wire payload, one line per batch; configs build local sinks."""

from __future__ import annotations

import io
from pathlib import Path

from edge_agent.envelope import Batch, Reading, decode_batch
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


def test_configs_build_local_sinks() -> None:
    assert isinstance(StdoutPublishConfig(type="stdout").build(None), StdoutSink)
    built = FilePublishConfig(type="file", path=Path("out.jsonl")).build(None)
    assert isinstance(built, FileSink)
    assert built.path == Path("out.jsonl")
