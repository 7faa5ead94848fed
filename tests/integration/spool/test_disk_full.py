"""A full disk under the spool: put fails with SpoolFull (Retryable), and recovers once space frees.

Uses a real small filesystem (tmpfs mounted by the test), so it needs root and mount rights;
without them it is skipped (the max_bytes cap is covered by the contract suite).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent.errors import Retryable, SpoolFull
from edge_agent.spool.config import SqliteSpoolConfig
from edge_agent.spool.sqlite import SqliteSpool
from tests.contracts.spool_contract import make_batch, take_seqs


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


async def test_disk_full_is_retryable_and_the_spool_recovers(small_disk: Path) -> None:
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * 6 * 1024 * 1024)
    async with SqliteSpool(SqliteSpoolConfig(path=small_disk / "spool.db")) as spool:
        seq, caught = 1, None
        while caught is None and seq < 1000:
            try:
                await spool.put(make_batch(spool.epoch, seq, readings=100))
                seq += 1
            except SpoolFull as exc:
                caught = exc
        assert isinstance(caught, Retryable)
        assert "no space" in str(caught)
        stored = seq - 1
        assert stored > 10
        assert spool.last_seq == stored
        filler.unlink()
        await spool.put(make_batch(spool.epoch, seq, readings=100))
        assert await take_seqs(spool, seq) == list(range(1, seq + 1))
    async with SqliteSpool(SqliteSpoolConfig(path=small_disk / "spool.db")) as spool:
        assert (spool.last_seq, spool.stats().depth) == (seq, 0)
