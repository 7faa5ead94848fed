"""Group commit of the SQL stores: concurrent work shares a transaction, failures stay apart."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from cloud.stores.sql import SqlDatabase, Transaction

SCHEMA = ("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)",)


async def test_concurrent_work_shares_commits_and_a_failure_fails_alone(tmp_path: Path) -> None:
    db = SqlDatabase(path=tmp_path / "g.db")
    db.open(SCHEMA)
    groups: list[int] = []
    commit_group = db._commit_group

    def spy(group: list[Any]) -> list[tuple[bool, Any]]:
        groups.append(len(group))
        return commit_group(group)

    db._commit_group = spy  # type: ignore[method-assign]
    committed: list[int] = []

    def insert(k: int) -> Any:
        def work(tx: Transaction) -> int:
            tx.execute("INSERT INTO t (k, v) VALUES (?, ?)", (k, "x"))
            if k == 7:
                raise ValueError("seven is refused")
            return k
        return work

    results = await asyncio.gather(*(db.run(insert(k), after_commit=committed.append) for k in range(20)),
                                   return_exceptions=True)
    assert [r for r in results if isinstance(r, Exception)] == [results[7]]
    assert isinstance(results[7], ValueError)
    assert [r for r in results if not isinstance(r, Exception)] == [k for k in range(20) if k != 7]
    assert committed == [k for k in range(20) if k != 7], "after_commit runs in commit order"
    rows = db.transact(lambda tx: tx.query("SELECT k FROM t ORDER BY k"))
    assert [k for (k,) in rows] == [k for k in range(20) if k != 7]
    assert sum(groups) == 20
    assert max(groups) > 1, "work that arrived during a commit shared the next one"
    db.close()


async def test_a_failing_after_commit_hook_is_the_callers_error(tmp_path: Path) -> None:
    db = SqlDatabase(path=tmp_path / "g.db")
    db.open(SCHEMA)

    def boom(_: object) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        await db.run(lambda tx: tx.execute("INSERT INTO t (k, v) VALUES (1, 'a')"), after_commit=boom)
    assert await db.run(lambda tx: tx.query("SELECT COUNT(*) FROM t")) == [(1,)]
    db.close()
