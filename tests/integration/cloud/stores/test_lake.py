"""Parquet lake: hive partitions, immutable files, idempotent and durable staging."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloud.stores.filelock import StoreInUse
from cloud.stores.lake import LakeStore
from cloud.stores.records import Record, to_record
from tests.unit.cloud.batches import make_batch


def _record(seq: int, device: str = "pump-1", readings: int = 4, site: str = "plant1") -> Record:
    batch = make_batch(device, seq, readings=readings, site=site)
    return to_record(json.loads(batch.encode()), timestamp=0, device="-")


def _keys(lake: LakeStore) -> list[tuple[str, str, int]]:
    table = lake.table()
    return sorted(zip(table["device"].to_pylist(), table["point"].to_pylist(), table["t"].to_pylist(),
                      strict=True))


async def test_files_are_hive_partitioned_and_immutable(tmp_path: Path) -> None:
    lake = LakeStore(tmp_path / "lake", partition_by=["site", "date"], row_group_rows=3, file_rows=10)
    lake.open()
    await lake.write(_record(1, site="plant1", readings=8))
    await lake.write(_record(2, site="plant2", readings=4))
    assert not list((tmp_path / "lake").rglob("part-*.parquet")), "no file is visible before it closes"
    await lake.write(_record(3, site="plant1", readings=4))
    closed = sorted((tmp_path / "lake").rglob("part-*.parquet"))
    assert [p.parent.parent.name for p in closed] == ["site=plant1"]
    assert closed[0].parent.name.startswith("date=2026-11-")
    metadata = pq.ParquetFile(closed[0]).metadata
    assert (metadata.num_rows, metadata.num_row_groups) == (12, 2), "row groups of at least 3 rows, whole messages"
    before = closed[0].stat().st_mtime_ns
    await lake.flush(force=True)
    assert closed[0].stat().st_mtime_ns == before
    lake.close()
    table = lake.table()
    assert table.num_rows == 16
    assert set(table["site"].to_pylist()) == {"plant1", "plant2"}
    assert "site" in table.column_names


async def test_staged_rows_survive_a_crash_and_are_not_doubled(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    lake = LakeStore(root, partition_by=["date"], row_group_rows=2)
    lake.open()
    await lake.write(_record(1))
    await lake.write(_record(2))
    # crash: the open file is never closed, the process state is lost, its lock dies with it
    lake._writer.release()
    survivor = LakeStore(root, partition_by=["date"])
    survivor.open()
    assert await survivor.write(_record(1)) == 0
    survivor.close()
    assert len(_keys(survivor)) == 8
    assert not list(root.rglob(".part-*"))


async def test_a_crash_after_the_rename_does_not_write_rows_twice(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    lake = LakeStore(root, partition_by=["date"])
    lake.open()
    await lake.write(_record(1))
    staged = lake._db.transact(lambda tx: tx.query("SELECT COUNT(*) FROM lake_staged"))
    lake._db.transact = lambda work: 0  # type: ignore[method-assign]
    lake._flush_all()  # the rename happens, the staging clean-up is lost
    assert staged == [(1,)], "one chunk: the message's rows in its one partition"
    lake._writer.release()
    again = LakeStore(root, partition_by=["date"])
    again.open()
    again.close()
    assert len(_keys(again)) == 4


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.lists(st.integers(min_value=1, max_value=6), min_size=1, max_size=20),
       restart_at=st.integers(min_value=0, max_value=20))
async def test_lake_is_idempotent_under_any_redelivery_order(tmp_path_factory: object, order: list[int],
                                                             restart_at: int) -> None:
    root = Path(tmp_path_factory.mktemp("lake"))  # type: ignore[attr-defined]
    lake = LakeStore(root, partition_by=["date"], row_group_rows=3, file_rows=7)
    lake.open()
    for i, seq in enumerate(order):
        if i == restart_at:
            lake.close()
            lake = LakeStore(root, partition_by=["date"], row_group_rows=3, file_rows=7)
            lake.open()
        await lake.write(_record(seq))
    lake.close()
    expected = sorted({k for seq in set(order) for k in
                       ((r.device, r.point, r.t) for r in _record(seq).rows)})
    assert _keys(lake) == expected


async def test_a_second_writer_is_refused(tmp_path: Path) -> None:
    lake = LakeStore(tmp_path / "lake")
    lake.open()
    with pytest.raises(StoreInUse, match="open for writing in another process"):
        LakeStore(tmp_path / "lake").open()
    lake.close()
    again = LakeStore(tmp_path / "lake")
    again.open()
    again.close()


async def test_message_keys_are_forgotten_after_the_key_retention(tmp_path: Path) -> None:
    lake = LakeStore(tmp_path / "lake", partition_by=["date"], key_retention=3600)
    lake.open()
    assert await lake.write(_record(1)) == 4
    assert await lake.write(_record(1)) == 0
    await lake.flush()
    assert await lake.write(_record(1)) == 0, "still within the key retention"
    lake.key_retention = -1.0
    await lake.flush()
    assert await lake.write(_record(1)) == 4
    lake.close()
