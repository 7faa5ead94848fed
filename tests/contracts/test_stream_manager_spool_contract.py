"""The spool contract, run against the Stream Manager spool over the faithful fake server."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.interfaces import Spool
from edge_agent.spool.config import StreamManagerSpoolConfig
from edge_agent.spool.stream_manager import StreamManagerSpool
from tests.contracts.fake_stream_manager import FakeStreamManagerServer
from tests.contracts.spool_contract import SpoolContract, SpoolFactory, SpoolModelContract


class TestStreamManagerSpoolContract(SpoolContract, SpoolModelContract):
    @pytest.fixture
    def spool_factory(self, tmp_path: Path) -> SpoolFactory:
        server = FakeStreamManagerServer()

        def factory(*, max_bytes: int | None = None, when_full: str | None = None,
                    max_age: float | None = None) -> Spool:
            assert max_age is None, "Stream Manager spools have no max_age"
            options = {"max_bytes": max_bytes, "when_full": when_full}
            config = StreamManagerSpoolConfig.model_validate(
                {"type": "stream_manager", "position_file": tmp_path / "position.json",
                 **{k: v for k, v in options.items() if v is not None}})
            return StreamManagerSpool(config, client_factory=server.client)

        return factory
