"""The rule every spool enforces on ``put``: the batch is of this spool's epoch, and its seq is above
every seq ever put (a seq is never reused)."""

from __future__ import annotations

from edge_agent.envelope import Batch


def check_next(batch: Batch, *, epoch: str, last_seq: int) -> None:
    """Raise ``ValueError`` (a bug in the caller, not a runtime condition) if ``batch`` may not follow."""
    if batch.epoch != epoch:
        raise ValueError(f"batch epoch {batch.epoch!r} is not this spool's {epoch!r}")
    if batch.seq <= last_seq:
        raise ValueError(f"seq {batch.seq} is not above the last seq {last_seq}: a seq is never reused")
