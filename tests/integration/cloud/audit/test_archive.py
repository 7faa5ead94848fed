"""The lake as a write-once archive, tampered with as someone covering up an excursion would."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cloud.audit.archive import Archive
from cloud.audit.chain import MANIFEST, ChainError, read_entries
from cloud.audit.verify import verify_archive
from cloud.stores.lake import LakeStore
from cloud.stores.records import to_record
from edge_agent.envelope import Batch, Reading

T0 = 1_795_000_000_000
DEVICE = "reefer-0042"


def reefer_batch(seq: int, *, t0: int = T0, temps: list[float] | None = None, setpoint: float = -20.0,
                 door: bool = False, step: int = 30_000, device: str = DEVICE) -> Batch:
    """A reefer batch: one temperature per ``step`` ms, the setpoint and the door once."""
    temps = temps if temps is not None else [-20.0] * 10
    start = t0 + seq * len(temps) * step
    readings = [Reading(device, "reefer_return_air", start + i * step, v) for i, v in enumerate(temps)]
    readings += [Reading(device, "reefer_setpoint", start, setpoint),
                 Reading(device, "reefer_door_open", start, door)]
    return Batch(device=device, site="fleet", asset_type="reefer", epoch="e1", seq=seq, start=start,
                 end=start + len(temps) * step, readings=tuple(readings),
                 last={r.point: r.v for r in readings})


async def fill(root: Path, batches: list[Batch], **options: object) -> LakeStore:
    lake = LakeStore(root, partition_by=["site", "date"], file_rows=20, **options)  # type: ignore[arg-type]
    lake.open()
    for batch in batches:
        await lake.write(to_record(json.loads(batch.encode()), timestamp=0, device="-"))
    await lake.flush(force=True)
    lake.close()
    return lake


@pytest.fixture
async def archive(tmp_path: Path) -> Path:
    root = tmp_path / "lake"
    await fill(root, [reefer_batch(seq) for seq in range(6)])
    return root


def files(root: Path) -> list[Path]:
    return sorted(root.rglob("part-*.parquet"))


def manifests(root: Path) -> list[Path]:
    return sorted(root.rglob(MANIFEST))


async def test_every_closed_file_is_sealed_read_only_and_verifies(archive: Path) -> None:
    entries = verify_archive(archive)
    assert len(entries) == len(files(archive)) >= 3
    assert sum(e.rows for e in entries) == 6 * 12
    assert all(not os.stat(p).st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) for p in files(archive))
    assert {e.path for e in entries} == {str(p.relative_to(archive)) for p in files(archive)}


async def test_a_changed_row_is_named(archive: Path) -> None:
    victim = files(archive)[1]
    table = pq.read_table(victim)
    values = table["value"].to_pylist()
    values[0] = -25.0  # a warm reading made to look cold
    os.chmod(victim, 0o644)
    pq.write_table(table.set_column(table.schema.get_field_index("value"), "value",
                                    pa.array(values, pa.float64())), victim)
    with pytest.raises(ChainError, match=f"{victim.relative_to(archive)} .*altered: its SHA-256"):
        verify_archive(archive)


async def test_a_deleted_file_is_named(archive: Path) -> None:
    victim = files(archive)[0]
    victim.unlink()
    with pytest.raises(ChainError, match=f"{victim.relative_to(archive)} .*is missing"):
        verify_archive(archive)


async def test_an_inserted_file_is_named(archive: Path) -> None:
    extra = files(archive)[0].with_name("part-999999999998-999999999999.parquet")
    pq.write_table(pq.read_table(files(archive)[0]), extra)
    with pytest.raises(ChainError, match=r"part-999999999998-999999999999\.parquet is not in any manifest"):
        verify_archive(archive)


async def test_an_edited_manifest_is_named(archive: Path) -> None:
    manifest = manifests(archive)[0]
    lines = manifest.read_text().splitlines()
    entry = json.loads(lines[0])
    entry["rows"] += 1
    lines[0] = json.dumps(entry)
    manifest.write_text("\n".join(lines) + "\n")
    with pytest.raises(ChainError, match=f"entry #{entry['index']} .*altered"):
        verify_archive(archive)


async def test_dropping_the_newest_entry_is_named(archive: Path) -> None:
    newest = max(read_entries(archive), key=lambda e: e.index)
    manifest = archive / newest.partition / MANIFEST
    kept = [line for line in manifest.read_text().splitlines() if json.loads(line)["index"] != newest.index]
    manifest.write_text("".join(line + "\n" for line in kept))
    (archive / newest.path).unlink()
    with pytest.raises(ChainError, match=f"HEAD names entry #{newest.index} but the chain ends"):
        verify_archive(archive)


async def test_a_crash_between_seal_and_rename_finishes_the_rename(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    lake = LakeStore(root, partition_by=["date"])
    lake.open()
    await lake.write(to_record(json.loads(reefer_batch(1).encode()), timestamp=0, device="-"))
    real_rename = Path.rename
    Path.rename = lambda self, target: (_ for _ in ()).throw(OSError("crash"))  # type: ignore[method-assign,assignment,misc]
    try:
        with pytest.raises(OSError, match="crash"):
            lake._flush_all()
    finally:
        Path.rename = real_rename  # type: ignore[method-assign]
    lake._writer.release()
    assert list(root.rglob(".part-*.tmp"))
    assert not files(root)
    again = LakeStore(root, partition_by=["date"])
    again.open()
    again.close()
    assert len(files(root)) == 1
    assert sum(e.rows for e in verify_archive(root)) == 12
    assert again.table().num_rows == 12, "rows neither lost nor written twice"


async def test_files_expire_through_the_chain_only_after_their_retention(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    day = 86_400_000
    await fill(root, [reefer_batch(1, t0=T0), reefer_batch(2, t0=T0 + 40 * day)])
    archive = Archive(root, retention=30 * 86_400)
    archive.open()
    expired = archive.expire(now=(T0 + 35 * day) / 1000)
    assert expired
    assert all(e.t_max < T0 + 5 * day for e in expired)
    assert all(not (root / e.path).exists() for e in expired)
    entries = verify_archive(root, retention=30 * 86_400)
    assert [e.op for e in entries].count("expire") == len(expired)
    with pytest.raises(ChainError, match="before its retention"):
        verify_archive(root, retention=400 * 86_400)
