"""Sinks on this machine: one JSON line per batch to stdout, or appended durably to a file."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import IO, Self

from edge_agent.envelope import Batch
from edge_agent.errors import Retryable
from edge_agent.metrics import Counters


def _line(batch: Batch) -> bytes:
    return batch.encode() + b"\n"


class StdoutSink:
    """Writes each batch as one compact JSON line (the wire payload) to ``stream`` (stdout)."""

    def __init__(self, stream: IO[bytes] | None = None) -> None:
        self._stream = stream
        self.counters = Counters()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def send(self, batch: Batch) -> None:
        stream = self._stream or sys.stdout.buffer
        line = _line(batch)
        try:
            stream.write(line)
            stream.flush()
        except OSError as exc:
            raise Retryable(f"stdout: {exc}") from exc
        self.counters.inc("acked")
        self.counters.inc("bytes", len(line))


class FileSink:
    """Appends each batch as one JSON line to ``path`` and fsyncs it before ``send`` returns, so an
    acknowledged batch survives a crash or power loss. Sends are written in the order issued."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.counters = Counters()
        self._fd: int | None = None
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> Self:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = await asyncio.to_thread(os.open, self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._fd is not None:
            async with self._lock:
                os.close(self._fd)
                self._fd = None

    async def send(self, batch: Batch) -> None:
        line = _line(batch)
        async with self._lock:
            if self._fd is None:
                raise Retryable(f"{self.path}: sink is not open")
            try:
                await asyncio.to_thread(_append, self._fd, line)
            except OSError as exc:
                raise Retryable(f"{self.path}: {exc.strerror}") from exc
        self.counters.inc("acked")
        self.counters.inc("bytes", len(line))


def _append(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
    os.fsync(fd)
