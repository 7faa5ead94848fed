from __future__ import annotations

import base64
import json
from decimal import Decimal

import pytest

from cloud.rules import RulesError, SqlSyntaxError, compile_rule
from cloud.rules.types import UNDEFINED


def test_contract_attributes() -> None:
    rule = compile_rule("SELECT * FROM 'dt/+/+/+/telemetry'")
    assert rule.topic_filter == "dt/+/+/+/telemetry"
    assert rule.sql_version == "2016-03-23"
    assert rule.matches_topic("dt/s/pump/p1/telemetry")
    assert rule.matches_topic("$aws/rules/ingest/dt/s/pump/p1/telemetry")
    assert not rule.matches_topic("dt/s/pump/p1/alarm")
    assert rule.evaluate("dt/s/pump/p1/alarm", b"{}") is None


def test_basic_ingest_prefix_is_invisible_to_from_and_topic() -> None:
    rule = compile_rule("SELECT topic() AS t, topic(1) AS first FROM 'dt/#'")
    assert rule.evaluate("$aws/rules/r1/dt/a/b", b"{}") == {"t": "dt/a/b", "first": "dt"}
    assert rule.evaluate("$aws/rules/r1/other/a", b"{}") is None


def test_rule_without_from_runs_on_basic_ingest_only() -> None:
    rule = compile_rule("SELECT a")
    assert rule.topic_filter == ""
    assert rule.evaluate("$aws/rules/r1/x/y", b'{"a": 1}') == {"a": 1}
    assert rule.evaluate("x/y", b'{"a": 1}') is None


def test_invalid_topic_filter_is_a_syntax_error() -> None:
    with pytest.raises(SqlSyntaxError, match="'#' must be the last level") as caught:
        compile_rule("SELECT a FROM 'a/#/b'")
    assert caught.value.column == 15


def test_unknown_sql_version() -> None:
    with pytest.raises(RulesError, match="unknown SQL version"):
        compile_rule("SELECT a FROM 'x'", sql_version="beta")


def test_where_must_be_true() -> None:
    rule = compile_rule("SELECT a FROM 'x' WHERE flag")
    assert rule.evaluate("x", b'{"a": 1, "flag": true}') == {"a": 1}
    assert rule.evaluate("x", b'{"a": 1, "flag": "TRUE"}') == {"a": 1}
    assert rule.evaluate("x", b'{"a": 1, "flag": 1}') is None
    assert rule.evaluate("x", b'{"a": 1}') is None


def test_undefined_items_are_left_out_and_keys_come_from_paths_functions_or_position() -> None:
    rule = compile_rule("SELECT a, b.c, upper(a), missing, a + 'x' FROM 'x'")
    assert rule.evaluate("x", b'{"a": "v", "b": {"c": 2}}') == {"a": "v", "c": 2, "upper": "V", "_5": "vx"}


def test_select_value_undefined_gives_none_but_run_tells_it_apart() -> None:
    rule = compile_rule("SELECT VALUE missing FROM 'x'")
    assert rule.evaluate("x", b"{}") is None
    result = rule.run("x", b"{}")
    assert result is not None
    assert result.value is UNDEFINED


def test_set_variables_are_visible_to_where_select_and_nested_queries() -> None:
    rule = compile_rule(
        "SET @limit = 10, @double = @limit * 2 "
        "SELECT @double AS d, (SELECT VALUE v FROM e WHERE v > @limit) AS big FROM 'x' WHERE @limit > 5")
    result = rule.run("x", json.dumps({"e": [{"v": 5}, {"v": 15}, {"v": 25}]}).encode())
    assert result is not None
    assert result.output == {"d": 20, "big": [15, 25]}
    assert result.variables == {"limit": 10, "double": 20}


def test_set_variable_object_members() -> None:
    rule = compile_rule("SET @s = device1.deviceData.sensors SELECT @s.temp AS t FROM 'x'")
    assert rule.evaluate("x", b'{"device1": {"deviceData": {"sensors": {"temp": 75}}}}') == {"t": 75}


def test_unset_variable_is_a_syntax_error() -> None:
    with pytest.raises(SqlSyntaxError, match="variable @b is not set"):
        compile_rule("SET @a = @b SELECT @a FROM 'x'")


def test_nested_query_over_an_object_and_over_non_collections() -> None:
    rule = compile_rule("SELECT (SELECT a, b FROM d) AS obj, (SELECT VALUE x FROM s) AS none FROM 'x'")
    assert rule.evaluate("x", b'{"d": {"a": 1, "b": 2, "c": 3}, "s": "str"}') == {"obj": {"a": 1, "b": 2}}


def test_nested_star_selects_each_element() -> None:
    rule = compile_rule("SELECT VALUE (SELECT * FROM e WHERE n <> 'x') FROM 't'")
    assert rule.evaluate("t", b'{"e": [{"n": "x"}, {"n": "y", "v": 1}]}') == [{"n": "y", "v": 1}]


def test_dotted_alias_does_not_modify_the_payload_it_extends() -> None:
    rule = compile_rule("SELECT *, 1 AS a.added FROM 't'")
    payload = {"a": {"kept": True}}
    assert rule.evaluate("t", payload) == {"a": {"kept": True, "added": 1}}
    assert payload == {"a": {"kept": True}}


def test_binary_payloads_pass_through_select_star() -> None:
    raw = bytes(range(256))
    assert compile_rule("SELECT * FROM 't'").evaluate("t", raw) == raw
    assert compile_rule("SELECT VALUE * FROM 't'").evaluate("t", raw) == raw
    rule = compile_rule("SELECT *, timestamp() AS time, field FROM 't'")
    assert rule.evaluate("t", raw, timestamp=5) == {"time": 5}
    assert compile_rule("SELECT * FROM 't' WHERE device_type = 'x'").evaluate("t", raw) is None


def test_scalar_json_and_text_payloads_are_not_addressable() -> None:
    rule = compile_rule("SELECT * FROM 't'")
    assert rule.evaluate("t", b"80") == b"80"
    assert rule.evaluate("t", "plain text") == b"plain text"
    assert compile_rule("SELECT VALUE a FROM 't'").evaluate("t", b"[1]") is None
    assert rule.evaluate("t", b"[1, 2.5]") == [1, 2.5]


def test_payload_may_be_pre_parsed() -> None:
    rule = compile_rule("SELECT a / 4 AS q, b + 0.1 AS s FROM 't'")
    assert rule.evaluate("t", {"a": 10.0, "b": 0.2}) == {"q": 2, "s": 0.3}
    assert rule.evaluate("t", '{"a": 10.0, "b": 0.2}') == {"q": 2, "s": 0.3}


def test_output_converts_decimals_to_floats() -> None:
    output = compile_rule("SELECT 1.5 AS a, [2.25] AS b FROM 't'").evaluate("t", b"{}")
    assert output == {"a": 1.5, "b": [2.25]}
    assert isinstance(output, dict)
    assert isinstance(output["a"], float)


def test_pre_parsed_payload_must_be_json() -> None:
    rule = compile_rule("SELECT * FROM 't'")
    circular: dict[str, object] = {}
    circular["self"] = circular
    for payload in (circular, {"a": float("nan")}, {"a": object()}):
        with pytest.raises(RulesError, match="not a JSON value"):
            rule.evaluate("t", payload)
    assert rule.evaluate("t", {"a": Decimal("1.50"), "b": (1, 2.0)}) == {"a": 1.5, "b": [1, 2]}


def test_pre_parsed_payload_bytes_are_made_only_when_needed() -> None:
    rule = compile_rule("SELECT encode(*, 'base64') AS b, k FROM 't'")
    output = rule.evaluate("t", {"k": 1.0, 2: "two"})
    assert isinstance(output, dict)
    assert output["k"] == 1
    assert json.loads(base64.b64decode(str(output["b"]))) == {"k": 1, "2": "two"}


def test_a_number_beyond_the_decimal_range_does_not_hide_the_rest_of_the_payload() -> None:
    rule = compile_rule("SELECT b, a * 10 AS big FROM 't'")
    assert rule.evaluate("t", b'{"a": 1.5e999, "b": 1}') == {"b": 1}
