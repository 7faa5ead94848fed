from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.publish.config import RateLimit
from edge_agent.publish.ratelimit import BURST_SECONDS, PublishRateLimiter, TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run(bucket_or_limiter: TokenBucket | PublishRateLimiter, clock: FakeClock,
        sizes: list[int]) -> list[float]:
    """Send items one after another, each waiting as told; the send times."""
    times = []
    for size in sizes:
        delay = (bucket_or_limiter.reserve(size) if isinstance(bucket_or_limiter, PublishRateLimiter)
                 else bucket_or_limiter.reserve(float(size)))
        clock.now += delay
        times.append(clock.now)
    return times


def test_full_bucket_passes_a_burst_then_spaces_at_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=10, capacity=3, clock=clock)
    times = run(bucket, clock, [1] * 7)
    assert times[:3] == [1000.0] * 3
    assert times[3:] == pytest.approx([1000.1, 1000.2, 1000.3, 1000.4])


def test_idle_time_refills_up_to_capacity_only() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=10, capacity=2, clock=clock)
    run(bucket, clock, [1, 1])
    clock.now += 60
    assert bucket.available == pytest.approx(2)


def test_requests_larger_than_capacity_wait_in_proportion() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=100, capacity=10, clock=clock)
    assert bucket.reserve(10) == 0
    assert bucket.reserve(50) == pytest.approx(0.5)


@given(rate=st.floats(1, 1000), sizes=st.lists(st.integers(1, 50), min_size=2, max_size=200))
def test_long_run_never_exceeds_rate_plus_burst(rate: float, sizes: list[int]) -> None:
    clock = FakeClock()
    capacity = max(1.0, rate * BURST_SECONDS)
    bucket = TokenBucket(rate=rate, capacity=capacity, clock=clock)
    start = clock.now
    times = run(bucket, clock, sizes)
    # everything sent by the last send time fits in what the bucket could have given out
    assert sum(sizes) <= capacity + (times[-1] - start) * rate + 1e-6 * sum(sizes)


def test_limiter_applies_both_limits() -> None:
    clock = FakeClock()
    limiter = PublishRateLimiter(RateLimit(publishes_per_second=100, bytes_per_second=1000), clock)
    # bytes dominate: 500-byte messages at 1000 B/s -> 2 per second
    times = run(limiter, clock, [500] * 6)
    gaps = [b - a for a, b in itertools.pairwise(times[2:])]
    assert gaps == pytest.approx([0.5] * 3)
    # publishes dominate: 1-byte messages at 100/s
    clock.now += 10
    times = run(limiter, clock, [1] * 30)
    assert (times[-1] - times[10]) == pytest.approx(19 / 100)


def test_disabled_limiter_never_waits() -> None:
    limiter = PublishRateLimiter(RateLimit(enabled=False), FakeClock())
    assert not limiter.enabled
    assert all(limiter.reserve(128 * 1024) == 0 for _ in range(10_000))


def test_defaults_are_iot_core_per_connection_limits() -> None:
    config = RateLimit()
    assert (config.publishes_per_second, config.bytes_per_second) == (100, 512 * 1024)
