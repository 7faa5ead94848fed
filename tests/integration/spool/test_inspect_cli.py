"""``edgeferry spool inspect``: read-only, usable while an agent writes, one-line errors."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from edge_agent.errors import Retryable
from edge_agent.spool.config import SqliteSpoolConfig
from edge_agent.spool.sqlite import SqliteSpool
from tests.contracts.spool_contract import make_batch, put_all

ROOT = Path(__file__).resolve().parents[3]


def edgeferry(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edgeferry", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


async def inspect(*args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(edgeferry, "spool", "inspect", *args)


async def test_inspect_while_the_spool_is_in_use(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    async with SqliteSpool(SqliteSpoolConfig(path=path)) as spool:
        await put_all(spool, range(1, 6))
        _, ack = await spool.take()
        await ack(None)
        _, nack = await spool.take()
        await nack(Retryable("down"))
        done = await inspect(str(path), "--json")
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert report["epoch"] == spool.epoch
        assert (report["last_seq"], report["last_acked_seq"], report["depth"]) == (5, 1, 4)
        assert report["bytes"] == spool.stats().bytes
        assert report["oldest_age"] >= 0
        assert (report["dropped"], report["rejected"]) == (0, 0)
        await spool.put(make_batch(spool.epoch, 6))  # the writer is not blocked by the reader
    text = await inspect(str(path))
    assert text.returncode == 0, text.stderr
    assert "last seq        6" in text.stdout
    assert "depth           5 batches" in text.stdout


async def test_inspect_never_modifies_the_file(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    async with SqliteSpool(SqliteSpoolConfig(path=path)) as spool:
        await put_all(spool, range(1, 4))
    before = sorted(os.listdir(tmp_path)), hashlib.sha256(path.read_bytes()).hexdigest()
    assert (await inspect(str(path))).returncode == 0
    assert (sorted(os.listdir(tmp_path)), hashlib.sha256(path.read_bytes()).hexdigest()) == before


async def test_missing_and_corrupt_files_get_one_line_errors(tmp_path: Path) -> None:
    missing = await inspect(str(tmp_path / "nope.db"))
    corrupt_path = tmp_path / "bad.db"
    corrupt_path.write_bytes(b"garbage" * 1000)
    corrupt = await inspect(str(corrupt_path))
    for done, name in ((missing, "nope.db"), (corrupt, "bad.db")):
        assert done.returncode == 1
        assert done.stderr.count("\n") == 1
        assert name in done.stderr
        assert "Traceback" not in done.stderr
    assert corrupt_path.read_bytes() == b"garbage" * 1000
