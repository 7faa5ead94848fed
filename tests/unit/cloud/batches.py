"""Agent-shaped batches for the cloud-side tests (built with the edge's own envelope)."""

from __future__ import annotations

from edge_agent.envelope import Batch, Reading, Window

T0 = 1_795_000_000_000
"""A fixed time (ms, 2026-11-19) so partitions and rollup hours are predictable."""


def make_batch(device: str = "pump-1", seq: int = 1, *, epoch: str = "e1", readings: int = 4,
               site: str = "plant1", t0: int = T0, windows: int = 0) -> Batch:
    """A batch of ``readings`` readings of point ``p<i % 3>`` one second apart, plus windows."""
    base = t0 + seq * 60_000
    rows = tuple(Reading(device, f"p{i % 3}", base + i * 1000, float(seq * 100 + i)) for i in range(readings))
    wins = tuple(Window(f"w{i}", base, 60_000, 10, 1.0, 5.0, 3.0, 1.0, 5.0) for i in range(windows))
    last = {r.point: r.v for r in rows}
    return Batch(device=device, site=site, asset_type="pump", epoch=epoch, seq=seq, start=base,
                 end=base + readings * 1000, readings=rows, windows=wins, last=last)
