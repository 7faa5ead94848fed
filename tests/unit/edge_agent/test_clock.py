import time

import pytest

from edge_agent.clock import Clock, ManualClock, SystemClock


def test_system_clock_reads_the_host_clocks() -> None:
    clock: Clock = SystemClock()
    before = time.time_ns() // 1_000_000
    assert before <= clock.wall_ms() <= time.time_ns() // 1_000_000
    first = clock.monotonic()
    assert clock.monotonic() >= first


def test_manual_clock_moves_only_when_told() -> None:
    clock: Clock = ManualClock(wall_ms=1_000, monotonic=5.0)
    assert (clock.wall_ms(), clock.monotonic()) == (1_000, 5.0)
    assert isinstance(clock, ManualClock)
    clock.advance(0.0004)
    clock.advance(0.0007)
    assert clock.wall_ms() == 1_001
    assert clock.monotonic() == pytest.approx(5.0011)
    clock.step_wall(-60_000)
    assert clock.wall_ms() == -58_999
    assert clock.monotonic() == pytest.approx(5.0011)
    with pytest.raises(ValueError, match="backward"):
        clock.advance(-1)
