"""Token buckets that keep one MQTT connection under IoT Core's per-connection limits.

AWS IoT Core allows 100 publishes per second and 512 KiB/s per connection, neither adjustable;
excess publishes are dropped and excess bytes delayed (limits-iot.md, "Message broker and protocol
limits and quotas"). Pure logic: time comes from an injected monotonic clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from edge_agent.publish.config import RateLimit

BURST_SECONDS = 0.1
"""A bucket holds this many seconds' worth of tokens: short bursts pass at once, while any one-second
window carries at most ``rate * (1 + BURST_SECONDS)``."""


class TokenBucket:
    """``rate`` tokens per second, at most ``capacity`` saved up.

    :meth:`reserve` takes the tokens at once — running into debt if there are not enough — and
    returns how long the caller must wait before acting. Callers that reserve and then wait, one
    after the other, are spaced exactly at ``rate``, whatever the size of each request.
    """

    __slots__ = ("_clock", "_last", "_tokens", "capacity", "rate")

    def __init__(self, rate: float, capacity: float, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or capacity <= 0:
            raise ValueError("rate and capacity must be positive")
        self.rate = rate
        self.capacity = capacity
        self._clock = clock
        self._tokens = capacity
        self._last = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
        self._last = now

    def reserve(self, amount: float = 1.0) -> float:
        """Take ``amount`` tokens; the seconds to wait before using them (0.0: go now)."""
        self._refill()
        self._tokens -= amount
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    @property
    def available(self) -> float:
        """Tokens available now (negative while in debt)."""
        self._refill()
        return self._tokens


class PublishRateLimiter:
    """Both of IoT Core's per-connection limits at once: publishes/s and bytes/s."""

    __slots__ = ("_bytes", "_publishes")

    def __init__(self, config: RateLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self._publishes: TokenBucket | None = None
        self._bytes: TokenBucket | None = None
        if config.enabled:
            self._publishes = TokenBucket(config.publishes_per_second,
                                          max(1.0, config.publishes_per_second * BURST_SECONDS), clock)
            self._bytes = TokenBucket(float(config.bytes_per_second),
                                      config.bytes_per_second * BURST_SECONDS, clock)

    @property
    def enabled(self) -> bool:
        return self._publishes is not None

    def reserve(self, payload_bytes: int) -> float:
        """Account for one publish of ``payload_bytes``; the seconds to wait before sending it."""
        if self._publishes is None or self._bytes is None:
            return 0.0
        return max(self._publishes.reserve(1.0), self._bytes.reserve(float(payload_bytes)))
