"""Wall-clock steps: windows close and restart on the new clock; no batch spans a step."""

import logging

import pytest

from edge_agent.aggregate import Aggregator, PointMode
from edge_agent.clock import ManualClock
from edge_agent.envelope import Batch, Reading

from .conftest import START_MS as T0
from .conftest import Build

HOUR_MS = 3_600_000
DAY_MS = 86_400_000


def _poll(agg: Aggregator, clock: ManualClock, seconds: int, value: float = 1.0) -> list[Batch]:
    """One reading per second stamped with the wall clock, as a polled source makes them."""
    out: list[Batch] = []
    for _ in range(seconds):
        out += agg.add([Reading("d", "temp", clock.wall_ms(), value)], clock.monotonic())
        clock.advance(1)
        out += agg.tick(clock.monotonic())
    return out


@pytest.fixture
def agg(build: Build) -> Aggregator:
    return build({"temp": PointMode("window")}, aggregation={"window": "10s"},
                 batching={"max_age": "60s"})


def test_a_backward_step_closes_the_open_window_and_windows_go_on(agg: Aggregator, clock: ManualClock,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    before = _poll(agg, clock, 5, value=1.0)
    assert before == []
    clock.step_wall(-HOUR_MS)
    with caplog.at_level(logging.WARNING, logger="edge_agent.aggregate.aggregator"):
        at_step = agg.tick(clock.monotonic())
    [partial] = [w for b in at_step for w in b.windows]
    assert (partial.t, partial.n) == (T0, 5)
    assert [r.getMessage() for r in caplog.records] == ["wall_clock_step"]
    assert caplog.records[0].step_ms == -HOUR_MS  # type: ignore[attr-defined]
    after = _poll(agg, clock, 25, value=2.0) + agg.flush(clock.monotonic())
    windows = [w for b in after for w in b.windows]
    assert [r for b in after for r in b.readings] == []  # windowed, not sent raw as late
    assert [w.t for w in windows] == [T0 - HOUR_MS + k * 10_000 for k in range(3)]
    assert sum(w.n for w in windows) == 25
    assert agg.counters.get("late_readings") == 0
    assert agg.counters.get("clock_steps") == 1


def test_a_forward_step_of_a_day_makes_no_batch_span_it(agg: Aggregator, clock: ManualClock) -> None:
    out = _poll(agg, clock, 7)
    clock.step_wall(DAY_MS)
    out += _poll(agg, clock, 25) + agg.flush(clock.monotonic())
    assert out
    assert max(b.end - b.start for b in out) <= 60_000
    windows = [w for b in out for w in b.windows]
    assert (windows[0].t, windows[0].n) == (T0, 7)
    assert all(w.t >= T0 + DAY_MS for w in windows[1:])
    assert sum(w.n for w in windows) == 32
    assert agg.counters.get("clock_steps") == 1


def test_small_differences_between_the_clocks_are_not_steps(agg: Aggregator, clock: ManualClock) -> None:
    _poll(agg, clock, 3)
    clock.step_wall(500)
    _poll(agg, clock, 3)
    assert agg.counters.get("clock_steps") == 0


def test_a_caller_passing_a_stale_now_is_not_a_step(agg: Aggregator, clock: ManualClock) -> None:
    """The agent reads ``now`` once per scan and reuses it after awaiting the spool."""
    for _ in range(5):
        now = clock.monotonic()
        agg.add([Reading("d", "temp", clock.wall_ms(), 1.0)], now)
        clock.advance(3)  # a slow spool put between add and tick
        agg.tick(now)
    assert agg.counters.get("clock_steps") == 0
