"""Every batch the agent spools declares what its spool dropped so far (the envelope's ``dropped``)."""

from __future__ import annotations

import json

from edge_agent.envelope import METERING_UNIT_BYTES, Batch, Reading
from edge_agent.spool.stats import SpoolStats
from edge_agent.supervisor import _declare_dropped


def batch(readings: int) -> Batch:
    rows = tuple(Reading("d", f"p{i}", 1_700_000_000_000 + i, float(i)) for i in range(readings))
    return Batch(device="d", site="s", asset_type="a", epoch="e", seq=9, start=0, end=1, readings=rows)


def stats(dropped: int, rejected: int = 0) -> SpoolStats:
    return SpoolStats(depth=0, bytes=0, oldest_age=None, dropped=dropped, rejected=rejected,
                      last_acked_seq=0, in_flight=0)


def test_drops_and_rejections_are_declared() -> None:
    assert json.loads(_declare_dropped(batch(3), stats(4, rejected=1)).encode())["dropped"] == 5
    assert _declare_dropped(batch(3), stats(0)) == batch(3)


def test_a_declaration_that_would_cost_another_metering_unit_waits_for_the_next_batch() -> None:
    full = next(batch(n) for n in range(1, 500)
                if METERING_UNIT_BYTES - 10 <= len(batch(n).encode()) <= METERING_UNIT_BYTES)
    assert _declare_dropped(full, stats(4)) == full
