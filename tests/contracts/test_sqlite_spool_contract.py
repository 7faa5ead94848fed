"""The spool contract, run against the SQLite spool on a real file."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.interfaces import Spool
from edge_agent.spool.budget import SpoolBudget
from edge_agent.spool.config import SqliteSpoolConfig
from edge_agent.spool.sqlite import SqliteSpool
from tests.contracts.spool_contract import SpoolContract, SpoolFactory, SpoolModelContract


class TestSqliteSpoolContract(SpoolContract, SpoolModelContract):
    @pytest.fixture
    def spool_factory(self, tmp_path: Path) -> SpoolFactory:
        def factory(*, max_bytes: int | None = None, when_full: str | None = None,
                    max_age: float | None = None) -> Spool:
            if max_bytes is not None:  # the contract's cap is room for batches: add the spool's own files
                max_bytes += SpoolBudget.of(max_bytes).overhead
            options = {"max_bytes": max_bytes, "when_full": when_full, "max_age": max_age}
            config = SqliteSpoolConfig.model_validate(
                {"path": tmp_path / "spool.db", **{k: v for k, v in options.items() if v is not None}})
            return SqliteSpool(config)

        return factory
