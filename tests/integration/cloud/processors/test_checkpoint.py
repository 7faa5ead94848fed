"""The checkpoint database's command queue."""

from __future__ import annotations

from pathlib import Path

from cloud.processors.checkpoint import Checkpoint
from cloud.stores.sql import SqlDatabase


def test_a_command_received_by_every_worker_of_a_group_is_queued_once(tmp_path: Path) -> None:
    checkpoint = Checkpoint(SqlDatabase(path=tmp_path / "state.db"))
    checkpoint.open()
    try:
        first = checkpoint.issue("m", "A", "r1", "acknowledge")
        assert checkpoint.issue("m", "A", "r1", "acknowledge") == first
        assert checkpoint.issue("m", "A", "r2", "acknowledge") != first
        assert [c.key for c in checkpoint.commands()] == ["r1", "r2"]
    finally:
        checkpoint.close()
