"""The status line shows what the spool lost, where the user looks."""

from __future__ import annotations

from edge_agent.status import AgentStatus
from edgeferry.status_line import render


def status(**spool: int) -> AgentStatus:
    return AgentStatus(thing="pump-1", uptime=10.0, parts={"spool": {"depth": 3, **spool},
                                                            "sink": {"state": "connected"}})


def test_drops_and_disk_full_refusals_are_on_the_status_line() -> None:
    assert "dropped" not in render(status(), {}).plain
    assert "dropped 12 (5 disk full)" in render(status(dropped=12, disk_full=5), {}).plain
    assert "dropped 12  " in render(status(dropped=12), {}).plain
