"""Fixed-rate poll schedule: no drift, skipped cycles counted."""

from __future__ import annotations

import pytest

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
