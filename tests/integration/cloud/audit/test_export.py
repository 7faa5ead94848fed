"""Audit exports of a reefer load: excursions, door, true gaps against late-arrived data; the
export verified on its own and against the archive, also after the archive's chain was rebuilt."""

from __future__ import annotations

import csv
import dataclasses
import json
import subprocess
import sys
import types
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import cloud.audit.archive as archive_module
from cloud.audit.chain import MANIFEST, ChainError, Entry, Head, file_digest, read_entries
from cloud.audit.export import ExportSpec, export, verify_export
from cloud.audit.verify import verify_archive
from cloud.stores.lake import LakeStore
from cloud.stores.records import to_record
from tests.integration.cloud.audit.test_archive import DEVICE, T0, files, reefer_batch

MINUTE = 60_000
BATCH = 10 * MINUTE
"""Each batch: ten temperatures a minute apart."""
LOAD_END = T0 + 15 * BATCH


def _temps(seq: int) -> list[float]:
    if seq == 2:  # a 40-minute excursion above setpoint + 3
        return [-20.0, -19.0, -16.5, -15.0, -16.0, -16.2, -16.8, -19.0, -20.0, -20.0]
    return [-20.0 + 0.1 * (i % 3) for i in range(10)]


async def _load(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Seq 0-5 and 12-14 archived a minute after their end; 6-8 (a dead zone) only after 14;
    9-11 never (a true gap)."""
    lake = LakeStore(root, partition_by=["site", "date"], file_rows=1000)
    lake.open()
    order = [*range(6), *range(12, 15), *range(6, 9)]
    for seq in order:
        sealed_at = (T0 + (seq + 1) * BATCH + MINUTE) if seq not in (6, 7, 8) else LOAD_END + 5 * MINUTE
        monkeypatch.setattr(archive_module, "time", types.SimpleNamespace(time=lambda at=sealed_at: at / 1000))
        batch = reefer_batch(seq, temps=_temps(seq), step=MINUTE, door=seq == 3)
        await lake.write(to_record(json.loads(batch.encode()), timestamp=0, device="-"))
        await lake.write(to_record(json.loads(reefer_batch(seq, step=MINUTE, device="reefer-0043").encode()),
                                   timestamp=0, device="-"))
        await lake.flush(force=True)
    lake.close()
    monkeypatch.undo()


@pytest.fixture
async def lake_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "data" / "lake" / "telemetry"
    await _load(root, monkeypatch)
    return root


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


async def test_export_finds_excursion_door_gap_and_late_data(lake_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "load-7731"
    spec = ExportSpec(device=DEVICE, start=T0, end=LOAD_END)
    summary = export(lake_root, spec, out)
    assert summary.records == 12 * 12, "twelve batches of twelve readings; the other trailer's left out"
    assert {r["device"] for r in _rows(out / "records.csv")} == {DEVICE}
    excursions = _rows(out / "excursions.csv")
    assert len(excursions) == 1
    assert float(excursions[0]["max_temperature"]) == -15.0
    assert float(excursions[0]["seconds"]) == 300  # above from minute 2 until back in band at minute 7
    assert [r["state"] for r in _rows(out / "door.csv")] == ["closed", "open", "closed"]
    gaps = _rows(out / "gaps.csv")
    assert [g["kind"] for g in gaps] == ["missing", "late-arrived"]
    assert float(gaps[0]["seconds"]) == (3 * BATCH + MINUTE) / 1000
    assert int(gaps[1]["records"]) == 30
    late = [r for r in _rows(out / "records.csv") if r["late"] == "true"]
    assert len(late) == 3 * 12
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF")
    manifest = verify_export(out, lake_root)
    assert {e["index"] for e in manifest["slice"]} <= {e["index"] for e in manifest["proof"]}
    assert manifest["head"]["index"] == max(e.index for e in read_entries(lake_root))


async def test_an_altered_export_is_named(lake_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "export"
    export(lake_root, ExportSpec(device=DEVICE, start=T0, end=LOAD_END), out, report=False)
    text = (out / "records.csv").read_text()
    (out / "records.csv").write_text(text.replace("-15", "-19", 1))
    with pytest.raises(ChainError, match=r"records\.csv was altered"):
        verify_export(out)


async def test_a_rebuilt_archive_chain_is_caught_by_an_earlier_export(lake_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "export"
    export(lake_root, ExportSpec(device=DEVICE, start=T0, end=LOAD_END), out, report=False)
    _rewrite_history(lake_root)
    verify_archive(lake_root)  # the forger rebuilt a consistent chain: the archive alone cannot tell
    with pytest.raises(ChainError, match="the archive's entry #0 differs from the export's"):
        verify_export(out, lake_root)


def _rewrite_history(root: Path) -> None:
    """Turn the first file's warm readings cold, then re-seal it and rehash the whole chain."""
    entries = read_entries(root)
    victim = root / entries[0].path
    table = pq.read_table(victim)
    victim.chmod(0o644)
    values = [min(v, -20.0) if v is not None else None for v in table["value"].to_pylist()]
    pq.write_table(table.set_column(table.schema.get_field_index("value"), "value",
                                    pa.array(values, pa.float64())), victim)
    prev, forged = entries[0].prev, []
    for entry in entries:
        if entry.index == 0:
            entry = dataclasses.replace(entry, sha256=file_digest(victim))
        entry = dataclasses.replace(entry, prev=prev)
        entry = dataclasses.replace(entry, hash=entry.content_hash())
        forged.append(entry)
        prev = entry.hash
    by_partition: dict[str, list[Entry]] = {}
    for entry in forged:
        by_partition.setdefault(entry.partition, []).append(entry)
    for partition, chained in by_partition.items():
        (root / partition / MANIFEST).write_text("".join(e.to_json() + "\n" for e in chained))
    Head(forged[-1].index, forged[-1].hash).write(root)


def edgeferry(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edgeferry", *map(str, args)], capture_output=True,
                          text=True, timeout=120, check=False)


async def test_cli_exports_verifies_and_names_a_tampered_file(lake_root: Path, tmp_path: Path) -> None:
    data, out = lake_root.parent.parent, tmp_path / "load"
    done = edgeferry("cloud", "audit", "export", "--data", data, "--device", DEVICE, "--from", str(T0),
                     "--to", str(LOAD_END), "--out", out)
    assert done.returncode == 0, done.stderr
    assert "1 excursions" in done.stdout
    assert "1 gaps" in done.stdout
    checked = edgeferry("cloud", "audit", "verify", "--data", data, "--export", out)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("ok: ")
    victim = files(lake_root)[0]
    victim.chmod(0o644)
    victim.write_bytes(victim.read_bytes() + b"\0")
    failed = edgeferry("cloud", "audit", "verify", "--data", data)
    assert failed.returncode == 1
    assert failed.stderr.startswith("edgeferry: verification failed: ")
    assert str(victim.relative_to(lake_root)) in failed.stderr
    assert "Traceback" not in failed.stderr
    missing = edgeferry("cloud", "audit", "verify", "--data", tmp_path / "nowhere")
    assert missing.returncode == 1
    assert "no lake table at" in missing.stderr
