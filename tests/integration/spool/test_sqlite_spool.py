"""SQLite spool on real files: durability settings, group commit, expiry, corruption, locking."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
from pathlib import Path

import pytest

from edge_agent.envelope import Batch
from edge_agent.errors import EdgeferryError, Rejected
from edge_agent.spool.config import SqliteSpoolConfig
from edge_agent.spool.errors import SpoolCorrupt, SpoolLocked
from edge_agent.spool.sqlite import SqliteSpool
from edge_agent.spool.sqlite_store import DEAD_LETTER_KEEP
from tests.contracts.spool_contract import make_batch, put_all, take_seqs


def sqlite_spool(path: Path, **options: object) -> SqliteSpool:
    return SqliteSpool(SqliteSpoolConfig.model_validate({"path": path, **options}))


async def test_file_is_wal_with_full_sync_and_one_row_per_batch(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    async with sqlite_spool(path) as spool:
        await put_all(spool, range(1, 4), readings=100)
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
        try:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            rows = conn.execute("SELECT seq, kind, size, length(payload) FROM batches").fetchall()
        finally:
            conn.close()
        assert [r[0] for r in rows] == [1, 2, 3]
        assert all(size == length > 5000 for _, _, size, length in rows)


async def test_concurrent_puts_share_commits(tmp_path: Path) -> None:
    async with sqlite_spool(tmp_path / "spool.db") as spool:
        await asyncio.gather(*(spool.put(make_batch(spool.epoch, s)) for s in range(1, 201)))
        commits = spool.counters.get("commits")
        assert spool.counters.get("put") == 200
        assert commits < 100, f"{commits} commits for 200 concurrent puts"


async def test_batches_older_than_max_age_are_dropped_and_counted(tmp_path: Path) -> None:
    now = [1_000_000.0]
    config = SqliteSpoolConfig(path=tmp_path / "spool.db", max_age=60)
    async with SqliteSpool(config, clock=lambda: now[0]) as spool:
        await put_all(spool, range(1, 4))
        now[0] += 61
        await put_all(spool, [4])
        assert await take_seqs(spool, 1) == [4]
        stats = spool.stats()
        assert (stats.dropped, stats.depth) == (3, 0)


async def test_take_skips_a_batch_that_expired_while_waiting(tmp_path: Path) -> None:
    now = [1_000_000.0]
    config = SqliteSpoolConfig(path=tmp_path / "spool.db", max_age=60)
    async with SqliteSpool(config, clock=lambda: now[0]) as spool:
        await put_all(spool, [1])
        now[0] += 30
        await put_all(spool, [2])
        now[0] += 31  # 1 is now 61 s old, 2 is 31 s old; no commit has run since
        assert await take_seqs(spool, 1) == [2]
        assert spool.stats().dropped == 1


async def test_corrupt_file_is_moved_aside_and_a_new_epoch_starts(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    async with sqlite_spool(path) as spool:
        old_epoch = spool.epoch
        await put_all(spool, [1, 2])
    path.write_bytes(b"this is not an sqlite database" * 200)
    with pytest.raises(SpoolCorrupt, match=str(path)):
        async with sqlite_spool(path, on_corrupt="fail"):
            pass
    async with sqlite_spool(path) as spool:
        assert spool.epoch != old_epoch
        assert (spool.last_seq, spool.stats().depth) == (0, 0)
        await put_all(spool, [1])
    aside = [name for name in os.listdir(tmp_path) if ".corrupt-" in name]
    assert len(aside) == 2, f"the database and its high-water mark go aside together: {aside}"


async def test_another_sqlite_database_is_not_touched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE readings (x)")
    conn.commit()
    conn.close()
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(EdgeferryError, match="not an edgeferry spool"):
        async with sqlite_spool(path):
            pass
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


async def test_a_second_writer_is_refused(tmp_path: Path) -> None:
    async with sqlite_spool(tmp_path / "spool.db"):
        with pytest.raises(SpoolLocked, match="in use"):
            async with sqlite_spool(tmp_path / "spool.db"):
                pass


async def test_dead_letters_are_bounded(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    total = DEAD_LETTER_KEEP + 20
    async with sqlite_spool(path) as spool:
        await put_all(spool, range(1, total + 1))
        for _ in range(total):
            _, ack = await spool.take()
            await ack(Rejected("refused"))
        assert spool.stats().rejected == total
    conn = sqlite3.connect(path)
    try:
        kept = [r[0] for r in conn.execute("SELECT seq FROM dead_letters ORDER BY seq")]
        reason = conn.execute("SELECT reason FROM dead_letters LIMIT 1").fetchone()[0]
    finally:
        conn.close()
    assert kept == list(range(21, total + 1))
    assert reason == "Rejected: refused"


async def test_an_undecodable_payload_goes_to_the_dead_letters(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    async with sqlite_spool(path) as spool:
        await put_all(spool, [1, 2])
    conn = sqlite3.connect(path)
    conn.execute("UPDATE batches SET payload = x'00ff' WHERE seq = 1")
    conn.commit()
    conn.close()
    async with sqlite_spool(path) as spool:
        assert await take_seqs(spool, 1) == [2]
        assert spool.stats().rejected == 1


async def test_put_refuses_a_batch_of_another_epoch(tmp_path: Path) -> None:
    async with sqlite_spool(tmp_path / "spool.db") as spool:
        batch: Batch = make_batch("someone-else", 1)
        with pytest.raises(ValueError, match="epoch"):
            await spool.put(batch)
