"""Time-series store on SQLite and on PostgreSQL (the RDS path)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloud.stores.records import Record, to_record
from cloud.stores.sql import SqlDatabase
from cloud.stores.timeseries import HOUR_MS, TimeseriesStore
from tests.unit.cloud.batches import T0, make_batch

PG_DSN = "host=127.0.0.1 port=5432 dbname=test user=postgres connect_timeout=3"


def _postgres_reason() -> str | None:
    try:
        import psycopg

        psycopg.connect(PG_DSN).close()
    except Exception as exc:
        return f"PostgreSQL at 127.0.0.1:5432 (db test) unreachable: {exc}"
    return None


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TimeseriesStore]:
    if request.param == "sqlite":
        db = SqlDatabase(path=tmp_path / "ts.db")
    else:
        reason = _postgres_reason()
        if reason:
            pytest.skip(reason)
        schema = f"ts_{uuid.uuid4().hex[:10]}"
        import psycopg

        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        db = SqlDatabase(dsn=f"{PG_DSN} options=-csearch_path={schema}")
    ts = TimeseriesStore(db, retention=10 * 365 * 86400.0)
    ts.open()
    yield ts
    ts.close()
    if request.param == "postgres":
        import psycopg

        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _record(seq: int, *, readings: int, windows: int = 0) -> Record:
    batch = make_batch(seq=seq, readings=readings, windows=windows)
    return to_record(json.loads(batch.encode()), timestamp=0, device="-")


async def test_rows_are_written_once_and_rollups_count_each_row_once(store: TimeseriesStore) -> None:
    assert await store.write(_record(1, readings=6)) == 6
    assert await store.write(_record(1, readings=6)) == 0
    assert await store.write(_record(2, readings=6, windows=1)) == 7
    assert await store.count() == 13
    series = await store.series("pump-1", "p0")
    assert [r.value for r in series] == [100.0, 103.0, 200.0, 203.0]
    rollups = await store.rollups("pump-1", "p0")
    assert sum(r.n for r in rollups) == 4
    assert min(r.min for r in rollups) == 100.0
    assert max(r.max for r in rollups) == 203.0
    assert all(r.hour % HOUR_MS == 0 for r in rollups)
    windows = await store.rollups("pump-1", "w0")
    assert [(w.n, w.min, w.max, w.avg) for w in windows] == [(10, 1.0, 5.0, 3.0)]


async def test_series_honours_the_time_range(store: TimeseriesStore) -> None:
    for seq in (1, 2, 3):
        await store.write(_record(seq, readings=3))
    start = T0 + 2 * 60_000
    rows = await store.series("pump-1", "p1", start=start, end=start + 60_000)
    assert [r.t for r in rows] == [start + 1000]


async def test_retention_removes_old_raw_rows_but_keeps_rollups(tmp_path: Path) -> None:
    store = TimeseriesStore(SqlDatabase(path=tmp_path / "ts.db"), retention=1.0, sweep_interval=0.0)
    store.open()
    try:
        await store.write(_record(1, readings=3))
        await store.write(_record(2, readings=3))
        assert await store.count() == 0
        assert sum(r.n for r in await store.rollups("pump-1", "p0")) == 2
        assert await store.write(_record(1, readings=3)) == 0
    finally:
        store.close()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.lists(st.tuples(st.sampled_from(["pump-1", "pump-2"]), st.integers(1, 5)), min_size=1,
                      max_size=25))
async def test_timeseries_is_idempotent_under_any_redelivery_order(tmp_path_factory: pytest.TempPathFactory,
                                                                   order: list[tuple[str, int]]) -> None:
    store = TimeseriesStore(SqlDatabase(path=tmp_path_factory.mktemp("ts") / "ts.db"), retention=1e12)
    store.open()
    try:
        for device, seq in order:
            batch = make_batch(device, seq, readings=4, windows=1)
            await store.write(to_record(json.loads(batch.encode()), timestamp=0, device="-"))
        unique = set(order)
        assert await store.count() == 5 * len(unique)
        for device in ("pump-1", "pump-2"):
            seqs = {seq for d, seq in unique if d == device}
            rollups = await store.rollups(device, "p0")
            assert sum(r.n for r in rollups) == 2 * len(seqs)
            expected_max = max((seq * 100 + 3 for seq in seqs), default=None)
            assert max((r.max for r in rollups), default=None) == expected_max
    finally:
        store.close()
