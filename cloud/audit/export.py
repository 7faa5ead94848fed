"""An audit export: every archived record of one device over a period, with what an auditor asks.

The export folder holds ``records.csv`` (every row of the device in the period, each with the time
it was archived and whether it arrived late), ``excursions.csv`` (temperature above setpoint +
threshold), ``door.csv`` (door transitions), ``gaps.csv`` (true gaps, and spans that arrived late
from a device's spool rather than being missing), ``report.pdf`` (charts, see
:mod:`cloud.audit.report`) and ``manifest.json``: the SHA-256 of each of those files, the chain
entries of the lake files the rows came from (the slice) and every entry from the slice's first to
the archive's head (the proof), so the export can be checked against the archive, or on its own.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from cloud.audit.chain import ChainError, Entry, check_links, file_digest
from cloud.audit.verify import verify_archive
from cloud.query import iso_time

SCHEMA = "edgeferry.audit-export/1"
MANIFEST = "manifest.json"
COLUMNS = ("t", "device", "point", "kind", "value", "text", "q", "epoch", "seq")


@dataclass(frozen=True, slots=True)
class ExportSpec:
    """What to export and how to judge it."""

    device: str
    start: int
    """ms since the epoch, inclusive."""
    end: int
    """ms since the epoch, exclusive."""
    temperature: str = "reefer_return_air"
    setpoint: str = "reefer_setpoint"
    door: str = "reefer_door_open"
    threshold: float = 3.0
    """An excursion: temperature above setpoint + threshold."""
    late_after: float = 1800.0
    """A row archived more than this many seconds after its time arrived late."""
    gap: float = 600.0
    """No temperature for longer than this many seconds is a gap."""


@dataclass(slots=True)
class ExportSummary:
    records: int = 0
    temperatures: int = 0
    excursions: int = 0
    door_openings: int = 0
    gaps: int = 0
    late_spans: int = 0
    late_records: int = 0
    files: dict[str, str] = field(default_factory=dict)
    """Export file name → SHA-256."""


def export(root: Path, spec: ExportSpec, out: Path, *, report: bool = True) -> ExportSummary:
    """Verify the archive under ``root``, then write the export of ``spec`` into ``out``."""
    entries = verify_archive(root)
    table, used = _rows(root, entries, spec)
    out.mkdir(parents=True, exist_ok=True)
    summary = ExportSummary(records=table.num_rows)
    series = Series.of(table, spec)
    summary.temperatures = len(series.temp_t)
    excursions = series.excursions(spec.threshold)
    door = series.door_transitions()
    gaps, late = series.gaps(spec.gap), _late_spans(table, spec)
    summary.excursions, summary.gaps, summary.late_spans = len(excursions), len(gaps), len(late)
    summary.door_openings = sum(1 for _, is_open in door if is_open)
    summary.late_records = int(pc.sum(table["late"]).as_py() or 0)
    (out / "records.csv").write_bytes(_records_csv(table))
    _write_rows(out / "excursions.csv", ("start", "end", "seconds", "max_temperature", "setpoint"),
                [(iso_time(s), iso_time(e), (e - s) / 1000, m, sp) for s, e, m, sp in excursions])
    _write_rows(out / "door.csv", ("time", "state"), [(iso_time(t), "open" if o else "closed") for t, o in door])
    _write_rows(out / "gaps.csv", ("kind", "start", "end", "seconds", "records", "archived"),
                [("missing", iso_time(s), iso_time(e), (e - s) / 1000, 0, "") for s, e in gaps]
                + [("late-arrived", iso_time(s), iso_time(e), (e - s) / 1000, n, iso_time(a)) for s, e, n, a in late])
    names = ["records.csv", "excursions.csv", "door.csv", "gaps.csv"]
    if report:
        from cloud.audit.report import write_report

        write_report(out / "report.pdf", spec, series, excursions=excursions, gaps=gaps,
                     late=[(s, e) for s, e, _, _ in late], summary=asdict(summary))
        names.append("report.pdf")
    summary.files = {name: file_digest(out / name) for name in names}
    first = min((e.index for e in used), default=entries[-1].index if entries else 0)
    manifest = {
        "schema": SCHEMA, "spec": asdict(spec), "created": iso_time(int(datetime.now(UTC).timestamp() * 1000)),
        "summary": {k: v for k, v in asdict(summary).items() if k != "files"}, "files": summary.files,
        "slice": [json.loads(e.to_json()) for e in used],
        "proof": [json.loads(e.to_json()) for e in entries if e.index >= first],
        "head": {"index": entries[-1].index, "hash": entries[-1].hash} if entries else None,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    return summary


def verify_export(out: Path, archive: Path | None = None) -> dict[str, Any]:
    """Re-check an export: its files against its manifest, its proof's links, and — with the
    ``archive`` root — the proof against the archive's chain and the records against the lake.
    Raise :class:`ChainError` naming the first thing that fails; return the manifest."""
    try:
        manifest: dict[str, Any] = json.loads((out / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise ChainError(f"{out / MANIFEST}: unreadable ({exc})") from None
    for name, digest in manifest["files"].items():
        path = out / name
        if not path.is_file():
            raise ChainError(f"{name} is missing from the export")
        if file_digest(path) != digest:
            raise ChainError(f"{name} was altered: its SHA-256 differs from the export's manifest")
    proof = [Entry(**e) for e in manifest["proof"]]
    if proof:
        list(check_links(proof, start_prev=proof[0].prev, start_index=proof[0].index))
        head = manifest["head"]
        if proof[-1].index != head["index"] or proof[-1].hash != head["hash"]:
            raise ChainError("the export's proof does not end at the head it names")
    by_index = {e.index: e for e in proof}
    for entry in (Entry(**e) for e in manifest["slice"]):
        if by_index.get(entry.index) != entry:
            raise ChainError(f"slice entry #{entry.index} ({entry.path}) is not the proof's entry")
    if archive is not None:
        _against_archive(out, manifest, proof, archive)
    return manifest


def _against_archive(out: Path, manifest: dict[str, Any], proof: list[Entry], archive: Path) -> None:
    entries = verify_archive(archive)
    chained = {e.index: e for e in entries}
    for entry in proof:
        if chained.get(entry.index) != entry:
            raise ChainError(f"the archive's entry #{entry.index} differs from the export's: "
                             "the archive's chain was rewritten after the export")
    spec = ExportSpec(**manifest["spec"])
    table, _ = _rows(archive, entries, spec)
    if hashlib.sha256(_records_csv(table)).hexdigest() != manifest["files"]["records.csv"]:
        raise ChainError("records.csv does not match the archive's rows for the export's device and period")


def _rows(root: Path, entries: Sequence[Entry], spec: ExportSpec) -> tuple[pa.Table, list[Entry]]:
    """The device's rows in the period from every live file whose time span overlaps it, sorted,
    with the time each was archived; and the entries of the files that held some."""
    expired = {e.path for e in entries if e.op == "expire"}
    tables, used = [], []
    for entry in entries:
        if (entry.op != "seal" or entry.path in expired or entry.t_max < spec.start
                or entry.t_min >= spec.end):
            continue
        keys = dict(part.split("=", 1) for part in entry.partition.split("/") if "=" in part)
        if keys.get("device", spec.device) != spec.device:
            continue
        schema = pq.read_schema(root / entry.path)
        columns = [c for c in COLUMNS if c in schema.names]
        where = (pc.field("t") >= spec.start) & (pc.field("t") < spec.end)
        if "device" in schema.names:
            where &= pc.field("device") == spec.device
        part = pq.read_table(root / entry.path, columns=columns, filters=where)
        if not part.num_rows:
            continue
        if "device" not in part.column_names:
            part = part.append_column("device", pa.array([spec.device] * part.num_rows, pa.string()))
        part = part.select(list(COLUMNS)).append_column(
            "archived", pa.array(np.full(part.num_rows, entry.at, dtype=np.int64)))
        tables.append(part)
        used.append(entry)
    if not tables:
        empty = pa.schema([("t", pa.int64()), ("device", pa.string()), ("point", pa.string()),
                           ("kind", pa.string()), ("value", pa.float64()), ("text", pa.string()),
                           ("q", pa.int8()), ("epoch", pa.string()), ("seq", pa.int64()),
                           ("archived", pa.int64())])
        table = empty.empty_table()
    else:
        table = pa.concat_tables(tables, promote_options="permissive")
    table = table.sort_by([("t", "ascending"), ("point", "ascending"), ("seq", "ascending")])
    late = pc.greater(pc.subtract(table["archived"], table["t"]), int(spec.late_after * 1000))
    return table.append_column("late", late), used


@dataclass(frozen=True, slots=True)
class Series:
    """The export's three signals as arrays (ms times; setpoint as a step function)."""

    temp_t: np.ndarray[Any, np.dtype[np.int64]]
    temp_v: np.ndarray[Any, np.dtype[np.float64]]
    setpoint_t: np.ndarray[Any, np.dtype[np.int64]]
    setpoint_v: np.ndarray[Any, np.dtype[np.float64]]
    door_t: np.ndarray[Any, np.dtype[np.int64]]
    door_v: np.ndarray[Any, np.dtype[np.float64]]

    @classmethod
    def of(cls, table: pa.Table, spec: ExportSpec) -> Series:
        def signal(point: str) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
            rows = table.filter(pc.and_(pc.equal(table["point"], point), pc.is_valid(table["value"])))
            return (rows["t"].to_numpy().astype(np.int64),
                    rows["value"].to_numpy(zero_copy_only=False).astype(np.float64))

        return cls(*signal(spec.temperature), *signal(spec.setpoint), *signal(spec.door))

    def setpoint_at(self, times: np.ndarray[Any, Any]) -> np.ndarray[Any, np.dtype[np.float64]]:
        """The setpoint in force at each time (NaN before the first one)."""
        if not len(self.setpoint_t):
            return np.full(len(times), np.nan)
        at = np.searchsorted(self.setpoint_t, times, side="right") - 1
        values = self.setpoint_v[np.clip(at, 0, None)]
        return np.where(at >= 0, values, np.nan)

    def excursions(self, threshold: float) -> list[tuple[int, int, float, float]]:
        """(start, end, max temperature, setpoint) of each run of readings above setpoint +
        threshold; a run ends at the first reading back in band."""
        if not len(self.temp_t):
            return []
        setpoint = self.setpoint_at(self.temp_t)
        above = self.temp_v > setpoint + threshold
        edges = np.flatnonzero(np.diff(np.concatenate(([0], above.astype(np.int8), [0]))))
        runs = []
        for start, stop in zip(edges[::2], edges[1::2], strict=True):
            end = self.temp_t[stop] if stop < len(self.temp_t) else self.temp_t[stop - 1]
            runs.append((int(self.temp_t[start]), int(end), float(self.temp_v[start:stop].max()),
                         float(setpoint[start])))
        return runs

    def door_transitions(self) -> list[tuple[int, bool]]:
        """(time, is open) at the first reading and at every change."""
        if not len(self.door_t):
            return []
        state = self.door_v > 0.5
        changes = np.flatnonzero(np.concatenate(([True], state[1:] != state[:-1])))
        return [(int(self.door_t[i]), bool(state[i])) for i in changes]

    def gaps(self, gap: float) -> list[tuple[int, int]]:
        """(last reading before, first reading after) of every silence longer than ``gap`` s."""
        if len(self.temp_t) < 2:
            return []
        steps = np.diff(self.temp_t)
        return [(int(self.temp_t[i]), int(self.temp_t[i + 1])) for i in np.flatnonzero(steps > gap * 1000)]


def _late_spans(table: pa.Table, spec: ExportSpec) -> list[tuple[int, int, int, int]]:
    """(first, last, count, archived) of each run of late temperature records sharing an archive
    time: data a device delivered from its spool after a dead zone."""
    rows = table.filter(pc.and_(pc.equal(table["point"], spec.temperature), table["late"]))
    spans: dict[int, list[int]] = {}
    for t, archived in zip(rows["t"].to_pylist(), rows["archived"].to_pylist(), strict=True):
        span = spans.setdefault(archived, [t, t, 0])
        span[1], span[2] = t, span[2] + 1
    return [(first, last, count, archived) for archived, (first, last, count) in spans.items()]


def _readable(table: pa.Table) -> pa.Table:
    """The rows as written to records.csv: the UTC time first (``2026-11-19 08:00:00.000``), then
    the stored fields, then when the row was archived (UTC)."""
    return (table.drop_columns(["archived"])
            .add_column(0, "time_utc", _utc(table["t"]))
            .append_column("archived_utc", _utc(table["archived"])))


def _utc(ms: pa.ChunkedArray) -> pa.ChunkedArray:
    # a zone-naive cast formats ~20x faster than strftime or a UTC-zoned cast
    return pc.cast(pc.cast(ms, pa.timestamp("ms")), pa.string())


def _records_csv(table: pa.Table) -> bytes:
    """records.csv's bytes: one function for the export and for re-deriving it from the archive."""
    buffer = pa.BufferOutputStream()
    pacsv.write_csv(_readable(table), buffer)
    return bytes(buffer.getvalue().to_pybytes())


def _write_rows(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    import csv

    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)



