"""Fixed-rate poll schedule: no drift, skipped cycles counted."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.sources.modbus.schedule import PollSchedule


def test_on_time_cycles_do_not_drift() -> None:
    schedule = PollSchedule(1.0, start=100.0)
    for k in range(1, 1000):
        assert schedule.advance(now=100.0 + k - 1 + 0.3) == 0
        assert schedule.due == pytest.approx(100.0 + k)
    assert schedule.delay(now=1098.5) == pytest.approx(0.5)


def test_overrun_skips_missed_cycles_and_counts_them() -> None:
    schedule = PollSchedule(1.0, start=0.0)
    assert schedule.advance(now=3.5) == 3
    assert schedule.due == 4.0
    assert schedule.delay(now=3.5) == pytest.approx(0.5)
    assert schedule.advance(now=4.2) == 0
    assert schedule.due == 5.0


def test_a_poll_ending_just_late_skips_one() -> None:
    schedule = PollSchedule(0.5, start=0.0)
    assert schedule.advance(now=0.5001) == 1
    assert schedule.due == 1.0


def test_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        PollSchedule(0)


@given(st.lists(st.floats(0.0, 5.0), min_size=1, max_size=200), st.sampled_from([0.1, 0.25, 1.0]))
def test_cycles_stay_on_the_grid_and_every_slot_is_run_or_skipped(busy: list[float], interval: float) -> None:
    """Whatever each poll costs, cycle k starts at start + k * interval (never drifts), and every
    grid slot up to the current one was either run or counted as skipped."""
    schedule = PollSchedule(interval, start=0.0)
    now = 0.0
    skipped = 0
    for runs, cost in enumerate(busy, start=1):
        now = max(now, schedule.due)  # sleep until due
        now += cost
        skipped += schedule.advance(now=now)
        slot = schedule.due / interval
        assert slot == pytest.approx(round(slot), abs=1e-6)
        assert schedule.due >= now
        assert runs + skipped == round(slot)
