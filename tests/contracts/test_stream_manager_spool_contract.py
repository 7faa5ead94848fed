"""The spool contract, run against the Stream Manager spool through the unmodified SDK client and
the local Stream Manager server over a real socket (tests/fixtures/stream_manager.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.interfaces import Spool
from edge_agent.spool.config import StreamManagerSpoolConfig
from edge_agent.spool.stream_manager import StreamManagerSpool
from tests.contracts.spool_contract import SpoolContract, SpoolFactory, SpoolModelContract
from tests.fixtures.stream_manager import ServerThread


class TestStreamManagerSpoolContract(SpoolContract, SpoolModelContract):
    @pytest.fixture
    def spool_factory(self, tmp_path: Path, stream_manager: ServerThread) -> SpoolFactory:
        def factory(*, max_bytes: int | None = None, when_full: str | None = None,
                    max_age: float | None = None) -> Spool:
            assert max_age is None, "Stream Manager spools have no max_age"
            options = {"max_bytes": max_bytes, "when_full": when_full}
            config = StreamManagerSpoolConfig.model_validate(
                {"type": "stream_manager", "position_file": tmp_path / "position.json",
                 **{k: v for k, v in options.items() if v is not None}})
            return StreamManagerSpool(config)

        return factory
