import time
from typing import Any

import pytest

from edge_agent.aggregate import Aggregator, PointMode, resolve_point_modes
from edge_agent.aggregate.config import AggregationConfig, BatchingConfig
from edge_agent.clock import ManualClock
from edge_agent.config import parse_config
from edge_agent.envelope import Batch, Quality, Reading
from edge_agent.sources.points import Deadband

from .conftest import START_MS as T0
from .conftest import Build

CONFIG: dict[str, Any] = {
    "thing": "reefer-0042", "site": "depot1", "asset_type": "reefer",
    "aggregation": {"mode": "window", "window": "10s"},
    "batching": {"max_age": "5s"},
    "devices": [{
        "type": "modbus_tcp", "name": "ctrl", "host": "127.0.0.1",
        "points": [
            {"name": "return_air", "address": 0, "dtype": "float32"},
            {"name": "setpoint", "address": 2, "dtype": "float32", "mode": "deadband",
             "deadband": {"absolute": 0.5}},
            {"name": "door_open", "table": "coil", "address": 0, "dtype": "bool", "mode": "raw"},
            {"name": "zone{i}", "address": 10, "count": 3, "dtype": "int16", "mode": "raw"},
        ],
    }],
    "alarms": [{"name": "warm", "when": "return_air > setpoint + 3"}],
}


def test_from_config_resolves_every_point_mode() -> None:
    config = parse_config(CONFIG)
    modes = resolve_point_modes(config.devices, config.aggregation)
    assert modes["return_air"] == PointMode("window")
    assert modes["setpoint"] == PointMode("deadband", Deadband(absolute=0.5))
    assert {modes[f"zone{i}"].mode for i in range(3)} == {"raw"}


def test_from_config_carries_identity_seq_and_modes(clock: ManualClock) -> None:
    agg = Aggregator.from_config(parse_config(CONFIG), epoch="e-7", next_seq=12, clock=clock)
    out: list[Batch] = []
    for i in range(10):
        t = clock.wall_ms()
        out += agg.add([Reading("ctrl", "return_air", t, 4.0 + i / 10), Reading("ctrl", "setpoint", t, 4.0),
                        Reading("ctrl", "door_open", t, i % 2 == 0)], clock.monotonic())
        clock.advance(1)
        out += agg.tick(clock.monotonic())
    out += agg.flush(clock.monotonic())
    assert {(b.device, b.site, b.asset_type, b.epoch) for b in out} == {("reefer-0042", "depot1", "reefer", "e-7")}
    assert [b.seq for b in out] == list(range(12, 12 + len(out)))
    assert agg.next_seq == 12 + len(out)
    readings = [r for b in out for r in b.readings]
    assert [r.point for r in readings].count("door_open") == 10
    assert [r.point for r in readings].count("setpoint") == 1
    assert "return_air" not in {r.point for r in readings}
    [window] = [w for b in out for w in b.windows]
    assert (window.point, window.t, window.n, window.min, window.max) == ("return_air", T0, 10, 4.0, 4.9)


def test_points_not_configured_use_the_default_mode(build: Build, clock: ManualClock) -> None:
    agg = build({}, aggregation={"mode": "deadband", "deadband": {"absolute": 5}})
    agg.add([Reading("d", "stray", T0, 1.0), Reading("d", "stray", T0 + 1, 2.0)], clock.monotonic())
    [batch] = agg.flush(clock.monotonic())
    assert [r.v for r in batch.readings] == [1.0]


def test_next_deadline_is_the_earliest_of_batch_age_window_close_and_heartbeat(build: Build,
                                                                              clock: ManualClock) -> None:
    agg = build({"w": PointMode("window"), "r": PointMode("raw"),
                 "d": PointMode("deadband", Deadband(absolute=1, heartbeat=4))},
                aggregation={"window": "10s"}, batching={"max_age": "3s"})
    assert agg.next_deadline() is None
    now = clock.monotonic()
    agg.add([Reading("d", "w", T0 + 2000, 1.0)], now)
    assert agg.next_deadline() == pytest.approx(now + 10.0)
    agg.add([Reading("d", "d", T0, 1.0)], now)
    assert agg.next_deadline() == pytest.approx(now + 3.0)


def run_with_deadlines(agg: Aggregator, clock: ManualClock, scans: list[list[Reading]],
                       poll: float) -> list[tuple[int, Batch]]:
    """Drive the aggregator as the agent loop does; each batch with the wall clock it left at."""
    out: list[tuple[int, Batch]] = []
    for scan in scans:
        out += [(clock.wall_ms(), b) for b in agg.add(scan, clock.monotonic())]
        until = clock.monotonic() + poll
        while (deadline := agg.next_deadline()) is not None and deadline <= until:
            clock.advance(max(0.0, deadline - clock.monotonic()))
            out += [(clock.wall_ms(), b) for b in agg.tick(clock.monotonic())]
        clock.advance(until - clock.monotonic())
    return out


def test_windows_close_as_soon_as_the_wall_clock_passes_their_end(build: Build, clock: ManualClock) -> None:
    agg = build({"p": PointMode("window")}, aggregation={"window": "5s"}, batching={"max_readings": 1})
    clock.advance(0.25)
    scans = [[Reading("d", "p", T0 + 250 + i * 700, float(i))] for i in range(30)]
    out = run_with_deadlines(agg, clock, scans, 0.7)
    windows = [(wall, w) for wall, b in out for w in b.windows]
    assert [w.t for _, w in windows] == [T0 + k * 5000 for k in range(len(windows))]
    for wall, w in windows:
        assert w.t + w.w <= wall < w.t + w.w + 100
    assert sum(w.n for _, w in windows) + sum(w.n for w in agg.flush(clock.monotonic())[0].windows) == 30


def test_a_forward_wall_step_closes_open_windows_at_once(build: Build, clock: ManualClock) -> None:
    agg = build({"p": PointMode("window")}, aggregation={"window": "60s"}, batching={"max_readings": 1})
    agg.add([Reading("d", "p", T0 + 1000, 1.0)], clock.monotonic())
    clock.step_wall(3_600_000)
    [batch] = agg.tick(clock.monotonic())
    assert (batch.windows[0].t, batch.windows[0].n) == (T0, 1)
    [late] = agg.add([Reading("d", "p", T0 + 2000, 2.0)], clock.monotonic())
    assert late.readings == (Reading("d", "p", T0 + 2000, 2.0),)
    assert agg.counters.get("late_readings") == 1


def test_flush_emits_partial_windows_and_the_open_batch(build: Build, clock: ManualClock) -> None:
    agg = build({"w": PointMode("window"), "r": PointMode("raw")}, aggregation={"window": "1h"})
    agg.add([Reading("d", "w", T0 + 5, 3.0), Reading("d", "r", T0 + 5, 1),
             Reading("d", "w", T0 + 6, None, Quality.BAD, 2)], clock.monotonic())
    [batch] = agg.flush(clock.monotonic())
    assert [(w.point, w.n) for w in batch.windows] == [("w", 1)]
    assert [r.point for r in batch.readings] == ["r", "w"]
    assert agg.flush(clock.monotonic()) == []
    assert agg.next_deadline() is None


def test_after_a_flush_seq_continues_and_a_closed_window_is_not_reopened(build: Build,
                                                                       clock: ManualClock) -> None:
    agg = build({"w": PointMode("window")}, aggregation={"window": "1m"}, next_seq=5)
    agg.add([Reading("d", "w", T0 + 1, 1.0)], clock.monotonic())
    [first] = agg.flush(clock.monotonic())
    agg.add([Reading("d", "w", T0 + 2, 2.0)], clock.monotonic())
    [second] = agg.flush(clock.monotonic())
    assert (first.seq, second.seq) == (5, 6)
    assert [w.n for w in first.windows] == [1]
    assert second.readings == (Reading("d", "w", T0 + 2, 2.0),)


def test_the_system_clock_is_the_default() -> None:
    agg = Aggregator("thing-1", "site1", "pump", {"w": PointMode("window")}, AggregationConfig(window="1h"),
                     BatchingConfig(max_age="2h"), [], "epoch-1", 1)
    now = time.monotonic()
    wall = time.time_ns() // 1_000_000
    agg.add([Reading("d", "w", wall, 1.0)], now)
    window_end = (wall // 3_600_000 + 1) * 3_600_000
    deadline = agg.next_deadline()
    assert deadline is not None
    assert deadline == pytest.approx(now + (window_end - wall) / 1000, abs=1.0)
