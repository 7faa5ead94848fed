"""A full disk under the spool, on a real small filesystem (a tmpfs the test mounts).

- a put on a full disk fails with ``SpoolFull`` (Retryable); the refused batch spends its seq and
  is counted, durably, as dropped (``disk_full``);
- acknowledgements still commit on a full disk (the reserve file gives the room), so a full spool
  drains, and then takes new batches again;
- ``max_bytes`` holds for every file the spool writes (database, WAL, reserve): a spool as large
  as its volume never meets a full disk, whatever its policy.

Mounting needs root and mount rights; without them the tests are skipped (the cap is also covered,
without a small disk, by the contract suite).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge_agent.errors import Retryable, SpoolFull
from edge_agent.spool.config import SqliteSpoolConfig
from edge_agent.spool.sqlite import SqliteSpool
from tests.contracts.spool_contract import make_batch, take_seqs
from tests.fixtures.disk import fill_with_other_files, mount_tmpfs

MiB = 1024 * 1024


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """Mounts tmpfs volumes of a given size (``"8m"``) under ``tmp_path``; unmounts them after."""
    with mount_tmpfs(tmp_path) as mount:
        yield mount


def spool_files(directory: Path) -> int:
    """Bytes of every file the spool wrote (database, WAL, shared memory, reserve, high-water mark)."""
    return sum(p.stat().st_blocks * 512 for p in directory.iterdir() if p.name.startswith("spool.db"))


async def fill_disk(spool: SqliteSpool, *, readings: int = 100) -> tuple[int, SpoolFull]:
    """Put batches until the disk refuses one; that seq and the error."""
    for seq in range(spool.last_seq + 1, spool.last_seq + 10_000):
        try:
            await spool.put(make_batch(spool.epoch, seq, readings=readings))
        except SpoolFull as exc:
            return seq, exc
    raise AssertionError("the disk never filled")


async def test_a_full_disk_refuses_a_batch_spends_its_seq_and_counts_it(
        small_disk: Callable[[str], Path]) -> None:
    disk = small_disk("8m")
    config = SqliteSpoolConfig(path=disk / "spool.db", max_bytes=6 * MiB)
    async with SqliteSpool(config) as spool:
        for seq in range(1, 11):
            await spool.put(make_batch(spool.epoch, seq, readings=100))
        fill_with_other_files(disk)
        refused, caught = await fill_disk(spool)
        assert isinstance(caught, Retryable)
        assert "no space" in str(caught)
        assert refused > 10
        stats = spool.stats()
        assert (spool.last_seq, stats.depth, stats.dropped, stats.disk_full) == (refused, refused - 1, 1, 1)
        (disk / "filler").unlink()
        await spool.put(make_batch(spool.epoch, refused + 1, readings=100))
    async with SqliteSpool(config) as spool:
        stats = spool.stats()
        assert (spool.last_seq, stats.dropped, stats.disk_full) == (refused + 1, 1, 1), "counted durably"
        assert await take_seqs(spool, refused) == [*range(1, refused), refused + 1]


async def test_acks_commit_on_a_full_disk_so_a_full_spool_drains(small_disk: Callable[[str], Path]) -> None:
    disk = small_disk("4m")
    async with SqliteSpool(SqliteSpoolConfig(path=disk / "spool.db", max_bytes=3 * MiB)) as spool:
        for seq in range(1, 41):
            await spool.put(make_batch(spool.epoch, seq, readings=100))
        fill_with_other_files(disk)
        first, _ = await fill_disk(spool)
        for _ in range(3):  # the disk stays full: more refusals, all counted
            refused, _ = await fill_disk(spool)
        assert refused == first + 3
        stored = spool.stats().depth
        assert stored == first - 1 >= 40
        assert await take_seqs(spool, stored) == list(range(1, first)), "every ack committed"
        stats = spool.stats()
        assert (stats.depth, stats.disk_full, stats.last_acked_seq) == (0, 4, first - 1)
        # the drained pages are the spool's own again: new batches fit without the disk growing
        for seq in range(refused + 1, refused + 21):
            await spool.put(make_batch(spool.epoch, seq, readings=100))
        assert spool.stats().depth == 20


@pytest.mark.parametrize(("max_bytes", "when_full"), [
    (2 * MiB - 64 * 1024, "drop_oldest"),  # what a user would set on a 2 MiB volume: nearly all of it
    (2 * MiB - 64 * 1024, "reject_new"),
    (64 * MiB, "drop_oldest"),  # the default, more than the volume has: the spool caps itself to it
])
async def test_max_bytes_holds_for_every_file_the_spool_writes(small_disk: Callable[[str], Path],
                                                               max_bytes: int, when_full: str) -> None:
    disk = small_disk("2m")
    config = SqliteSpoolConfig(path=disk / "spool.db", max_bytes=max_bytes, when_full=when_full)
    largest = 0
    async with SqliteSpool(config) as spool:
        seq = 0
        for round_ in range(12):
            for _ in range(150):  # a link that is down most of the time ...
                seq += 1
                with contextlib.suppress(SpoolFull):  # reject_new refuses: counted, as it should be
                    await spool.put(make_batch(spool.epoch, seq, readings=20 + (seq * 7) % 90))
                largest = max(largest, spool_files(disk))
            # ... and comes back now and then for a few batches
            await take_seqs(spool, min(spool.stats().depth, 5 + round_ * 3))
            largest = max(largest, spool_files(disk))
        stats = spool.stats()
        assert stats.disk_full == 0, "the spool never met the end of its volume"
        assert stats.dropped > 100, "its own cap made it apply its policy instead"
        await take_seqs(spool, stats.depth)
        assert spool.stats().depth == 0
    limit = min(max_bytes, 2 * MiB)
    assert largest <= limit, f"the spool's files took {largest} bytes, over {limit}"
