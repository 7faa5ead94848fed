"""Golden aggregation cases: tests/cases/aggregate/<name>/{config.yaml, input.jsonl, expected.jsonl}.

``input.jsonl`` drives the aggregator one step a line: ``{"scan": [[point, t, v, q?, code?], ...]}``
(``t`` in ms after the start of the case), ``{"advance": seconds}`` (both clocks),
``{"step_wall": ms}`` (the wall clock alone) or ``{"tick": true}``; the case ends with a flush.
``expected.jsonl`` holds every batch made, as its wire JSON, one a line. A case with
``error.txt`` instead must fail ``edgeferry agent check`` with each of its lines.
"""

import json
from pathlib import Path
from typing import Any

import pytest

from edge_agent.aggregate import Aggregator
from edge_agent.clock import ManualClock
from edge_agent.config import load_config
from edge_agent.envelope import Quality, Reading
from edgeferry.cli import main

from .conftest import START_MS

CASES = sorted((Path(__file__).parents[3] / "cases" / "aggregate").iterdir())
RUN = [c for c in CASES if (c / "input.jsonl").exists()]
ERRORS = [c for c in CASES if (c / "error.txt").exists()]


def run_case(case: Path) -> list[dict[str, Any]]:
    clock = ManualClock(wall_ms=START_MS, monotonic=1000.0)
    agg = Aggregator.from_config(load_config(case / "config.yaml"), epoch="case", next_seq=1, clock=clock)
    out = []
    for line in (case / "input.jsonl").read_text().splitlines():
        step = json.loads(line)
        if "scan" in step:
            scan = [Reading("dev", p, START_MS + t, v, Quality(rest[0]) if rest else Quality.GOOD,
                            rest[1] if len(rest) > 1 else None) for p, t, v, *rest in step["scan"]]
            out += agg.add(scan, clock.monotonic())
        elif "advance" in step:
            clock.advance(step["advance"])
        elif "step_wall" in step:
            clock.step_wall(step["step_wall"])
        else:
            out += agg.tick(clock.monotonic())
    out += agg.flush(clock.monotonic())
    return [json.loads(b.encode()) for b in out]


@pytest.mark.parametrize("case", RUN, ids=[c.name for c in RUN])
def test_aggregation_case(case: Path) -> None:
    expected = [json.loads(line) for line in (case / "expected.jsonl").read_text().splitlines()]
    assert run_case(case) == expected


@pytest.mark.parametrize("case", ERRORS, ids=[c.name for c in ERRORS])
def test_config_error_case(case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["agent", "check", "--config", str(case / "config.yaml")])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    for expected in (case / "error.txt").read_text().splitlines():
        assert any(expected in line for line in err.splitlines()), f"missing: {expected}\n{err}"
