import time

import pytest

from edge_agent.clock import Clock, ManualClock, StepDetector, SystemClock


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


def test_step_detector_sees_steps_in_both_directions_and_ignores_jitter() -> None:
    clock = ManualClock(wall_ms=1_000_000, monotonic=50.0)
    steps = StepDetector(tolerance_ms=1000)
    assert steps.check(clock.wall_ms(), clock.monotonic()) == 0  # the first check only primes
    clock.advance(30)
    assert steps.check(clock.wall_ms(), clock.monotonic()) == 0
    clock.step_wall(900)  # within the tolerance: jitter, or NTP slewing adding up
    assert steps.check(clock.wall_ms(), clock.monotonic()) == 0
    clock.advance(5)
    clock.step_wall(-3_600_000)
    assert steps.check(clock.wall_ms(), clock.monotonic()) == -3_600_000
    clock.advance(1)
    assert steps.check(clock.wall_ms(), clock.monotonic()) == 0
    clock.step_wall(86_400_000)
    clock.advance(2)
    assert steps.check(clock.wall_ms(), clock.monotonic()) == 86_400_000
