"""The demo's output at 80 columns: a summary with every agent and figure, progress lines off a
terminal."""

from __future__ import annotations

import io
from types import SimpleNamespace
from typing import Any, cast

import pytest
from rich.console import Console

from cloud.ledger import Reconciliation
from edge_agent.status import AgentStatus
from edge_agent.supervisor import Agent
from edgeferry.demo.run import AgentTrack, DemoResult, DemoState
from edgeferry.demo.view import ProgressLines, summary


def fake_agent(thing: str, readings: int, batches: int) -> Agent:
    parts: dict[str, dict[str, Any]] = {
        "agent": {"readings": readings, "batches_spooled": batches}, "forwarder": {"acked": batches},
        "sink": {"published": batches, "state": "connected"}, "spool": {"depth": 0}}
    status = AgentStatus(thing=thing, uptime=60.0, parts=parts)
    return cast(Agent, SimpleNamespace(config=SimpleNamespace(thing=thing), status=lambda: status))


def demo_result(reefers: int) -> DemoResult:
    agents = [("pump-station-RS01", 58_123, 61)] + [(f"reefer-{i + 1:04d}", 52, 3) for i in range(reefers)]
    state = DemoState(agents=[AgentTrack(fake_agent(t, r, b), peak_depth=b) for t, r, b in agents])
    state.outages.append((21.0, 36.0))
    return DemoResult(state, [Reconciliation(t, b, b, 0, 0, 0) for t, _, b in agents])


def render(renderable: Any, width: int = 80) -> list[str]:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(renderable)
    return out.getvalue().splitlines()


@pytest.mark.parametrize("reefers", [3, 12])
def test_summary_fits_80_columns_with_every_agent_and_figure(reefers: int) -> None:
    result = demo_result(reefers)
    lines = render(summary(result, Console(width=80, file=io.StringIO())))
    assert max(len(line) for line in lines) <= 80
    text = "\n".join(lines)
    assert "…" not in text  # nothing cut off
    assert text.count("reefer") == reefers
    assert "pump-station" in text
    assert "RS01" in text
    assert all(f"{i + 1:04d}" in text for i in range(reefers))
    assert "58,123" in text
    total_readings = 58_123 + 52 * reefers
    readings_rows = [line for line in lines if line.strip().startswith("readings polled")]
    assert f"{total_readings:,}" in readings_rows[-1]
    peak = next(line for line in reversed(lines) if line.strip().startswith("peak spool depth"))
    assert f"{61 + 3 * reefers:,}" not in peak  # no "total" of peaks at different moments
    assert text.rstrip().endswith("every batch is counted by (device, epoch, seq)")


def test_progress_lines_at_each_phase_and_every_few_seconds() -> None:
    out = io.StringIO()
    now = [0.0]
    lines = ProgressLines(Console(file=out, width=80, color_system=None), every=5.0, clock=lambda: now[0])
    state = demo_result(1).state
    for t, phase in [(0.0, "starting"), (1.0, "starting"), (2.0, "running"), (4.0, "running"),
                     (7.5, "running"), (8.0, "done")]:
        now[0] = t
        state.phase = phase
        lines(state)
    printed = [line.split("s  ", 1)[1] for line in out.getvalue().splitlines()]
    assert [line.split()[0] for line in printed] == ["starting", "readings", "running", "readings", "done"]
    assert printed[1] == "readings 58,175  spooled 64  acked 64  spool 0  links 2/2  cloud 0"
    assert max(len(line) for line in out.getvalue().splitlines()) <= 80
