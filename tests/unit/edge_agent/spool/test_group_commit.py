import asyncio

import pytest

from edge_agent.spool.group_commit import GroupCommit


class Recorder:
    """A commit that records its groups and can be held open, to let writers pile up."""

    def __init__(self) -> None:
        self.groups: list[list[int]] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def commit(self, items: list[int]) -> list[int | BaseException]:
        await self.gate.wait()
        self.groups.append(items)
        return [ValueError(f"odd {i}") if i % 2 else i * 10 for i in items]


async def test_writers_arriving_during_a_commit_share_the_next_one() -> None:
    rec = Recorder()
    commits: GroupCommit[int, int] = GroupCommit(rec.commit)
    rec.gate.clear()
    first = asyncio.create_task(commits.submit(0))
    await asyncio.sleep(0)
    rest = [asyncio.create_task(commits.submit(i)) for i in (2, 4, 6)]
    await asyncio.sleep(0)
    assert not first.done()
    rec.gate.set()
    assert await asyncio.gather(first, *rest) == [0, 20, 40, 60]
    assert rec.groups == [[0], [2, 4, 6]]


async def test_an_items_error_goes_to_its_writer_only() -> None:
    rec = Recorder()
    commits: GroupCommit[int, int] = GroupCommit(rec.commit)
    results = await asyncio.gather(*(commits.submit(i) for i in range(4)), return_exceptions=True)
    assert results[0] == 0
    assert results[2] == 20
    assert isinstance(results[1], ValueError)
    assert isinstance(results[3], ValueError)


async def test_a_failed_commit_fails_its_group_and_the_next_group_still_commits() -> None:
    calls = 0

    async def flaky(items: list[int]) -> list[int | BaseException]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("disk gone")
        return list(items)

    commits: GroupCommit[int, int] = GroupCommit(flaky)
    with pytest.raises(OSError, match="disk gone"):
        await commits.submit(1)
    assert await commits.submit(2) == 2


async def test_a_cancelled_writer_does_not_cancel_the_shared_commit() -> None:
    rec = Recorder()
    commits: GroupCommit[int, int] = GroupCommit(rec.commit)
    rec.gate.clear()
    cancelled = asyncio.create_task(commits.submit(2))
    other = asyncio.create_task(commits.submit(4))
    await asyncio.sleep(0)
    cancelled.cancel()
    rec.gate.set()
    assert await other == 40
    await commits.drain()
    assert rec.groups == [[2, 4]]
    assert commits.queued == []
