import logging

import pytest

from edge_agent.spool.drops import DropLog


def test_first_drop_is_logged_at_once_then_at_most_once_per_interval(
        caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]
    log = DropLog("spool.db", interval=10.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="edge_agent.spool.drops"):
        log.record("max_bytes", 1, last_seq=5)
        for seq in range(6, 16):
            now[0] += 0.5
            log.record("max_bytes", 1, last_seq=seq)
        assert len(caplog.records) == 1
        now[0] += 10
        log.record("max_age", 2, last_seq=20)
    fields = [(r.reason, r.batches, r.up_to_seq) for r in caplog.records]  # type: ignore[attr-defined]
    assert fields == [("max_bytes", 1, 5), ("max_bytes", 10, 20), ("max_age", 2, 20)]


def test_flush_logs_what_was_held_back(caplog: pytest.LogCaptureFixture) -> None:
    log = DropLog("spool.db", interval=60.0, clock=lambda: 0.0)
    with caplog.at_level(logging.WARNING, logger="edge_agent.spool.drops"):
        log.record("max_bytes", 1, last_seq=1)
        log.record("max_bytes", 4, last_seq=9)
        log.flush()
        log.flush()
    assert [r.batches for r in caplog.records] == [1, 4]  # type: ignore[attr-defined]
