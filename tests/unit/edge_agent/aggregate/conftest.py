"""Builders shared by the aggregate tests: a manual clock and a cheap aggregator factory."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from edge_agent.aggregate import Aggregator, PointMode
from edge_agent.aggregate.config import AggregationConfig, AlarmRule, BatchingConfig
from edge_agent.clock import ManualClock

START_MS = 1_763_769_600_000
"""2025-11-22T00:00:00Z: a whole minute, so windows of whole seconds start here."""

Build = Callable[..., Aggregator]


def build_aggregator(modes: Mapping[str, PointMode] | None = None, *, clock: ManualClock,
                     aggregation: dict[str, Any] | None = None, batching: dict[str, Any] | None = None,
                     alarms: Sequence[dict[str, Any]] = (), next_seq: int = 1) -> Aggregator:
    return Aggregator("thing-1", "site1", "pump", modes or {},
                      AggregationConfig.model_validate(aggregation or {}),
                      BatchingConfig.model_validate(batching or {}),
                      [AlarmRule.model_validate(a) for a in alarms], "epoch-1", next_seq, clock=clock)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(wall_ms=START_MS, monotonic=1000.0)


@pytest.fixture
def build(clock: ManualClock) -> Build:
    """``build(modes, aggregation={...}, batching={...}, alarms=[...])`` on the test's clock."""

    def make(modes: Mapping[str, PointMode] | None = None, **kwargs: Any) -> Aggregator:
        kwargs.setdefault("clock", clock)
        return build_aggregator(modes, **kwargs)

    return make
