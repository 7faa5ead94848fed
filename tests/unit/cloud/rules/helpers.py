"""Shared helpers of the IoT SQL unit tests."""

from __future__ import annotations

import json
from typing import Any

from cloud.rules import compile_rule
from cloud.rules.types import Value


def value_of(expression: str, payload: Any = None, *, sql_version: str = "2016-03-23",
             topic: str = "a/b", **message: Any) -> Value:
    """The engine value (Undefined included) of ``SELECT VALUE <expression>`` on one message."""
    rule = compile_rule(f"SELECT VALUE {expression} FROM '#'", sql_version=sql_version)
    raw = payload if isinstance(payload, bytes) else json.dumps({} if payload is None else payload).encode()
    result = rule.run(topic, raw, **message)
    assert result is not None
    return result.value
