"""Event-time windows: tumbling and sliding, watermarks per device, allowed lateness, late routing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloud.processors.inputs import DeviceInput
from cloud.processors.windows import WindowOperator, WindowSpec, window_records

T0 = 1_795_000_200_000  # a multiple of 5 minutes


def spec(**kw: object) -> WindowSpec:
    return WindowSpec.model_validate({"name": "w", "size": "1m", **kw})


def feed(op: WindowOperator, device: str, samples: list[tuple[int, float]]) -> tuple[list, list]:
    closed, late = [], []
    for t, v in samples:
        c, lt = op.add(DeviceInput(device, t, {"temp": v}))
        closed += c
        late += lt
    return closed, late


def test_tumbling_windows_close_when_the_watermark_passes_their_end() -> None:
    op = WindowOperator(spec())
    closed, late = feed(op, "r1", [(T0 + i * 10_000, float(i)) for i in range(13)])  # 0..120 s
    assert late == []
    assert [(w.start - T0, w.n, w.avg, w.min, w.max, w.first, w.last) for w in closed] == [
        (0, 6, 2.5, 0.0, 5.0, 0.0, 5.0), (60_000, 6, 8.5, 6.0, 11.0, 6.0, 11.0)]


def test_sliding_windows_each_reading_counts_in_size_over_slide_windows() -> None:
    op = WindowOperator(spec(size="1m", slide="30s"))
    closed, _ = feed(op, "r1", [(T0 + i * 10_000, 1.0) for i in range(19)])  # 0..180 s
    assert [(w.start - T0, w.n) for w in closed] == [(-30_000, 3), (0, 6), (30_000, 6), (60_000, 6),
                                                     (90_000, 6), (120_000, 6)]


def test_allowed_lateness_takes_late_readings_in_and_routes_later_ones() -> None:
    op = WindowOperator(spec(allowed_lateness="30s"))
    feed(op, "r1", [(T0 + 5_000, 1.0), (T0 + 70_000, 2.0)])
    closed, late = feed(op, "r1", [(T0 + 10_000, 3.0)])  # 60 s behind, within end + 30 s
    assert closed == []
    assert late == []
    closed, _ = feed(op, "r1", [(T0 + 95_000, 4.0)])  # watermark passes 60 s + 30 s: emitted
    assert [(w.start, w.n, w.avg) for w in closed] == [(T0, 2, 2.0)]
    closed, late = feed(op, "r1", [(T0 + 20_000, 5.0)])
    assert closed == []
    assert [(x.point, x.t, x.value) for x in late] == [("temp", T0 + 20_000, 5.0)]
    assert op.late == 1


def test_each_device_has_its_own_watermark() -> None:
    op = WindowOperator(spec())
    feed(op, "ahead", [(T0 + 3_600_000, 1.0)])
    closed, late = feed(op, "offline-for-an-hour", [(T0 + i * 10_000, 1.0) for i in range(8)])
    assert late == []
    assert [w.device for w in closed] == ["offline-for-an-hour"]


def test_state_survives_snapshot_and_restore() -> None:
    a, b = WindowOperator(spec()), WindowOperator(spec())
    feed(a, "r1", [(T0 + 1_000, 1.0), (T0 + 2_000, 3.0)])
    saved = a.snapshot("r1")
    assert saved is not None
    b.restore("r1", saved)
    closed, _ = feed(b, "r1", [(T0 + 61_000, 9.0)])
    assert [(w.n, w.avg) for w in closed] == [(2, 2.0)]


def test_closed_windows_become_idempotent_timeseries_records() -> None:
    op = WindowOperator(spec())
    closed, _ = feed(op, "r1", [(T0, 1.0), (T0 + 61_000, 2.0)])
    (record,) = window_records(closed)
    assert str(record.key) == f"r1/window:w/{T0}"
    assert [(r.point, r.kind, r.t, r.w, r.n, r.avg) for r in record.rows] == [
        ("temp#w", "window", T0, 60_000, 1, 1.0)]


def test_a_slide_that_does_not_divide_the_size_is_refused_naming_the_window() -> None:
    with pytest.raises(ValueError, match="window w: slide must divide size"):
        spec(size="1m", slide="25s")


@given(st.lists(st.tuples(st.integers(0, 600_000), st.floats(-50, 50)), min_size=1, max_size=60))
def test_every_reading_is_either_in_an_emitted_window_or_reported_late(samples: list[tuple[int, float]]) -> None:
    op = WindowOperator(spec(out_of_orderness="5s"))
    closed, late = feed(op, "r1", [(T0 + t, v) for t, v in samples])
    c, _lt = op.add(DeviceInput("r1", T0 + 10**9, {}))  # flush: the watermark passes everything
    closed += c
    assert sum(w.n for w in closed) + len(late) == len(samples)


def test_the_shipped_pump_station_rollups_cover_every_numeric_point_per_minute() -> None:
    from cloud.processors.model import load_config
    from simulators.profiles.pump_station import PumpStation
    from tests.unit.cloud.processors.scenarios import EXAMPLES

    (rollup,) = load_config(EXAMPLES / "pump-station.yaml").windows
    op, station = WindowOperator(rollup), PumpStation(pumps=2, seed=1)
    closed = []
    for second in range(0, 200, 5):
        values = station.sample(T0 / 1000 + second)
        closed += op.add(DeviceInput("ps-1", T0 + second * 1000, values))[0]
    numeric = {k for k, v in values.items() if not isinstance(v, str)}
    # 200 s of samples every 5 s: the watermark (195 s - 10 s) less 1 minute of lateness closes
    # the first two minutes
    assert {w.start - T0 for w in closed} == {0, 60_000}
    assert {w.point for w in closed if w.start == T0} == numeric
    assert all(w.n == 12 for w in closed)
