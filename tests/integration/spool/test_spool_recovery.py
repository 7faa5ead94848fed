"""What an SQLite spool does after damage: a lost write-ahead log, a corrupt payload, files moved
aside twice in one second. Real files; the damage is done as it happens in the field."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import sys
import time
from pathlib import Path

import pytest

from edge_agent.spool.config import SqliteSpoolConfig
from edge_agent.spool.high_water import LEASE_STEP
from edge_agent.spool.inspect import inspect_spool
from edge_agent.spool.sqlite import SqliteSpool
from edge_agent.spool.sqlite_store import _count_unsent
from tests.contracts.spool_contract import put_all, take_seqs

_PUT_AND_WAIT = """
import asyncio, sys
from pathlib import Path
from edge_agent.spool.config import SqliteSpoolConfig
from edge_agent.spool.sqlite import SqliteSpool
from tests.contracts.spool_contract import put_all

async def main(path, first, count):
    async with SqliteSpool(SqliteSpoolConfig(path=Path(path))) as spool:
        await put_all(spool, range(first, first + count))
        print(spool.last_seq, flush=True)
        await asyncio.Event().wait()

asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
"""


async def kill_while_open(path: Path, *, first: int, count: int) -> int:
    """In a child process, put seqs ``first..first+count-1`` (each durable), then SIGKILL it while
    the spool is open; the last seq it reported."""
    child = await asyncio.create_subprocess_exec(sys.executable, "-c", _PUT_AND_WAIT, str(path), str(first),
                                                 str(count), stdout=asyncio.subprocess.PIPE,
                                                 cwd=Path(__file__).parents[3])
    assert child.stdout is not None
    try:
        line = await asyncio.wait_for(child.stdout.readline(), 120)
    finally:
        child.kill()
        await child.wait()
    return int(line)


def spool(path: Path) -> SqliteSpool:
    return SqliteSpool(SqliteSpoolConfig(path=path))


async def test_a_lost_wal_after_an_unclean_stop_never_reuses_a_seq(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "spool.db"
    async with spool(path) as s:
        epoch = s.epoch
        await put_all(s, range(1, 40))  # checkpointed into the database at the clean close
    last = await kill_while_open(path, first=40, count=65)  # puts 40..104, then SIGKILL
    assert last == 104
    wal = path.with_name("spool.db-wal")
    assert wal.stat().st_size > 0, "the killed process left its WAL behind"
    wal.unlink()
    path.with_name("spool.db-shm").unlink(missing_ok=True)
    with caplog.at_level(logging.ERROR, logger="edge_agent.spool.sqlite_store"):
        async with spool(path) as s:
            kept = s.stats().depth  # what checkpoints had copied into the database before the kill
            assert 39 <= kept < 104, "the batches still only in the WAL went with it"
            assert s.epoch == epoch
            assert s.last_seq >= 104, "the high-water mark is above every seq handed out"
            assert s.last_seq <= 104 + LEASE_STEP
            skipped = s.last_seq - kept
            assert s.stats().dropped == skipped, "the seqs lost with the WAL are counted as dropped"
            await put_all(s, [s.last_seq + 1])
            taken = await take_seqs(s, s.stats().depth)
    assert taken == [*range(1, kept + 1), kept + skipped + 1]
    lost = [r for r in caplog.records if r.getMessage() == "spool_wal_lost"]
    assert [(r.last_seq_in_database, r.skipped) for r in lost] == [(kept, skipped)]  # type: ignore[attr-defined]


async def test_a_kill_with_the_wal_intact_resumes_exactly(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    async with spool(path) as s:
        await put_all(s, range(1, 10))
    await kill_while_open(path, first=10, count=20)
    async with spool(path) as s:
        assert (s.last_seq, s.stats().dropped) == (29, 0), "SQLite's recovery from the WAL is exact"
    async with spool(path) as s:  # and after that clean close, too
        assert (s.last_seq, s.stats().dropped) == (29, 0)


async def test_a_corrupt_payload_goes_to_the_dead_letters_with_a_log_line(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "spool.db"
    async with spool(path) as s:
        await put_all(s, range(1, 4))
    conn = sqlite3.connect(path)
    conn.execute("UPDATE batches SET payload = x'00ff' WHERE seq = 2")
    conn.commit()
    conn.close()
    with caplog.at_level(logging.ERROR, logger="edge_agent.spool.sqlite"):
        async with spool(path) as s:
            assert await take_seqs(s, 2) == [1, 3]
            assert s.stats().rejected == 1
    (record,) = [r for r in caplog.records if r.getMessage() == "spool_batch_undecodable"]
    assert record.seq == 2  # type: ignore[attr-defined]
    assert inspect_spool(path).dead_letters == 1


async def test_spools_moved_aside_in_one_second_keep_their_own_names(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    frozen = time.gmtime()
    monkeypatch.setattr("edge_agent.spool.files.time.gmtime", lambda *_: frozen)
    path = tmp_path / "spool.db"
    with caplog.at_level(logging.ERROR, logger="edge_agent.spool.sqlite_store"):
        for n in range(3):
            path.write_bytes(f"not a database {n}".encode() * 100)
            async with spool(path):
                pass
    aside = sorted(name for name in os.listdir(tmp_path) if ".corrupt-" in name and not name.endswith(".seq"))
    assert len(aside) == 3
    assert {(tmp_path / name).read_bytes()[:16] for name in aside} == {
        b"not a database 0", b"not a database 1", b"not a database 2"}
    moved = [r for r in caplog.records if r.getMessage() == "spool_corrupt_moved_aside"]
    assert len({r.moved_to for r in moved}) == 3  # type: ignore[attr-defined]
    assert all(str(r.unsent_batches).startswith("unknown") for r in moved)  # type: ignore[attr-defined]


async def test_unsent_batches_of_a_moved_aside_spool_are_counted(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    async with spool(path) as s:
        await put_all(s, range(1, 8))
        await take_seqs(s, 2)
    os.rename(path, tmp_path / "spool.db.corrupt-x")
    assert _count_unsent(tmp_path / "spool.db.corrupt-x") == 5
