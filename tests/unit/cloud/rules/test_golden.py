"""Golden cases from the examples of AWS's IoT SQL reference: tests/cases/sql/*.json, each citing its page."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from cloud.rules import compile_rule

CASES = sorted((Path(__file__).parents[4] / "tests" / "cases" / "sql").glob("*.json"))


def canonical(value: Any) -> str:
    """JSON text that tells 3 from 3.0 and true from 1, and ignores key order (as AWS's = does)."""
    return json.dumps(value, sort_keys=True)


def payload_of(case: dict[str, Any]) -> bytes:
    if "payload_base64" in case:
        return base64.b64decode(case["payload_base64"])
    if "payload_text" in case:
        return str(case["payload_text"]).encode()
    return json.dumps(case.get("payload", {})).encode()


def test_cases_exist() -> None:
    assert len(CASES) > 100


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_golden_case(path: Path) -> None:
    case = json.loads(path.read_text())
    assert case["doc"].startswith("https://docs.aws.amazon.com/iot/")
    rule = compile_rule(case["sql"], sql_version=case.get("sql_version", "2016-03-23"))
    result = rule.run(case["topic"], payload_of(case), clientid=case.get("clientid"),
                      timestamp=case.get("timestamp"))
    if not case["fires"]:
        assert result is None
        return
    assert result is not None
    output = result.output
    if case.get("expected_base64"):
        assert isinstance(output, bytes)
        output = base64.b64encode(output).decode()
    assert canonical(output) == canonical(case["expected"])
