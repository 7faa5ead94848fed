"""Plain files as the local stand-ins of S3, SNS and CloudWatch: objects written whole and atomically,
and append-only JSON-lines logs, each fsynced before a write returns."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any


class ObjectStore:
    """Objects under ``root``, one file per key (``a/b.json`` -> ``root/a/b.json``); a key that would
    leave ``root`` is refused."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def open(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        return None

    def path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not key or key.endswith("/") or not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"object key {key!r} is not a file name under the bucket")
        return path

    async def put(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(self._put, self.path(key), data)

    @staticmethod
    def _put(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)


class JsonLinesLog:
    """An append-only log of JSON values, one per line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = asyncio.Lock()

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        return None

    async def append(self, value: Any) -> None:
        line = json.dumps(value, separators=(",", ":")).encode() + b"\n"
        async with self._lock:
            await asyncio.to_thread(self._append, line)

    def _append(self, line: bytes) -> None:
        with self.path.open("ab") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def read(self) -> list[Any]:
        """Every value logged, oldest first."""
        try:
            return [json.loads(line) for line in self.path.read_bytes().splitlines() if line]
        except FileNotFoundError:
            return []
