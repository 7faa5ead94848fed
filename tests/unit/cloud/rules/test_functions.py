"""Built-in functions beyond the documented examples (those are golden cases in tests/cases/sql)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections.abc import Sequence
from decimal import Decimal

import pytest

from cloud.rules import FunctionNotAvailable, Message, SqlSyntaxError, compile_rule
from cloud.rules.types import UNDEFINED, JsonValue, Value

from .helpers import value_of


@pytest.mark.parametrize(("expression", "expected"), [
    ("abs('-5.5')", Decimal("5.5")), ("abs(true)", UNDEFINED), ("ceil('1.1')", 2), ("floor(x)", UNDEFINED),
    ("round(2.5)", 3), ("round(-2.5)", -3), ("sign(-0.5)", -1), ("mod(-7, 3)", -1),
    ("mod(7.5, 2)", Decimal("1.5")),
    ("mod(1, 0)", UNDEFINED), ("sqrt(-1)", UNDEFINED), ("ln(0)", UNDEFINED),
    ("power(2, 0.5)", Decimal("1.4142135623730951")),
    ("bitand(13.9, '5')", 5), ("bitnot(13)", -14), ("bitor('x', 1)", UNDEFINED),
    ("trunc(-2.77, 1)", Decimal("-2.7")),
    ("trunc(5, 2)", 5), ("trunc(1.23456, 99)", Decimal("1.23456")), ("cast(2.7 AS Int)", 2),
    ("cast(-2.7 AS Int)", -3),
    ("cast('2.5' AS Decimal)", Decimal("2.5")), ("cast(0 AS Boolean)", False), ("cast(0.5 AS Bool)", True),
    ("cast('TRUE' AS Boolean)", True), ("cast('yes' AS Boolean)", UNDEFINED), ("cast(1.5 AS String)", "1.5"),
    ("cast([1, 'a'] AS String)", '[1,"a"]'), ("cast(null AS String)", UNDEFINED), ("cast(false AS Int)", 0),
    ("cast(1 AS Double)", 1), ("cast(0.1 AS Double)", Decimal("0.1")), ("cast({'a': 1} AS Int)", UNDEFINED),
])
def test_maths_and_cast(expression: str, expected: Value) -> None:
    result = value_of(expression)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(("expression", "expected"), [
    ("concat('a', null)", UNDEFINED), ("concat(1, 2)", UNDEFINED), ("concat([1], missing)", UNDEFINED),
    ("substring('abc', 1, 'x')", UNDEFINED), ("substring(null, 1)", UNDEFINED), ("lower(null)", UNDEFINED),
    ("upper(1.5)", "1.5"), ("trim('\t x \n')", "x"), ("lpad('a', 2000)", " " * 1000 + "a"),
    ("rpad('a', -3)", "a"),
    ("lpad('a', 'x')", UNDEFINED), ("replace(1234, 23, 'x')", "1x4"),
    ("regexp_matches('abc', '[')", UNDEFINED),
    ("regexp_replace('a-b-c', '-', '+')", "a+b+c"), ("regexp_replace('ab', '(a)(b)', '$2$1\\$')", "ba$"),
    ("regexp_substr('abc', 'x')", ""), ("indexof('abc', 'z')", -1), ("startswith(null, 'a')", UNDEFINED),
    ("endswith(123, 3)", True), ("length('€uro')", 4), ("numbytes('€uro')", 6), ("chr(200)", UNDEFINED),
    ("chr('66.9')", "B"), ("encode('hi', 'base64')", "aGk="), ("encode('hi', 'hex')", UNDEFINED),
    ("decode('aGk=', 'base64')", "hi"), ("decode('not base64!', 'base64')", None),
    ("decode('MTA=', 'base64')", 10),
    ("decode(1, 'base64')", UNDEFINED), ("sha256('x')", hashlib.sha256(b"x").hexdigest()),
    ("sha1(1)", hashlib.sha1(b"1").hexdigest()), ("sha512(null)", UNDEFINED),
])
def test_string_functions(expression: str, expected: Value) -> None:
    assert value_of(expression) == expected


@pytest.mark.parametrize(("expression", "expected"), [
    ("get(arr, 0.6)", 30), ("get(arr, -1)", UNDEFINED), ("get(arr, 'x')", UNDEFINED),
    ("get(obj, 1)", UNDEFINED),
    ("get('abc', 1)", "b"), ("get(7, 0)", UNDEFINED), ("arr[0]", 10), ("arr[5]", UNDEFINED), ("obj.k[1]", 2),
    ("get_or_default(missing, 'd')", "d"), ("get_or_default(nothing, 'd')", "d"),
    ("get_or_default(arr[0], 'd')", 10),
    ("isNull(nothing)", True), ("isNull(missing)", False), ("isUndefined(missing)", True),
    ("nanvl(missing, 1)", 1),
    ("nanvl(nothing, 1)", 1), ("nanvl('a', 1)", "a"), ("transform('other', obj, [obj])", UNDEFINED),
    ("topic(0)", UNDEFINED), ("topic(3)", "c"), ("topic(4)", UNDEFINED), ("topic('2')", "b"),
])
def test_misc_functions(expression: str, expected: Value) -> None:
    payload = {"arr": [10, 30], "obj": {"k": [1, 2]}, "nothing": None}
    assert value_of(expression, payload, topic="a/b/c") == expected


def test_message_functions() -> None:
    assert value_of("clientid()") == "n/a"
    assert value_of("clientid()", clientid="dev-1") == "dev-1"
    assert value_of("principal()") is UNDEFINED
    assert value_of("principal()", principal="abc") == "abc"
    assert value_of("timestamp()", timestamp=123) == 123
    now = value_of("timestamp()")
    assert isinstance(now, int)
    assert abs(now - time.time() * 1000) < 60_000
    assert value_of("traceid()") is UNDEFINED
    uuid_shape = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}")
    assert uuid_shape.fullmatch(str(value_of("newuuid()")))
    assert uuid_shape.fullmatch(str(value_of("traceid()", clientid="c")))
    same = value_of("[traceid(), traceid()]", clientid="c")
    assert isinstance(same, list)
    assert same[0] == same[1]
    assert 0 <= value_of("rand()") < 1  # type: ignore[operator]
    assert value_of("sql_version()", sql_version="2015-10-08") == "2015-10-08"


@pytest.mark.parametrize(("expression", "expected"), [
    ("parse_time('yyyy-MM-dd HH:mm:ss.SSS Z', 1500000000123)", "2017-07-14 02:40:00.123 +0000"),
    ("parse_time('EEE, d MMM yy hh:mm a ZZ', 1500000000123, 'Europe/Paris')",
     "Fri, 14 Jul 17 04:40 AM +02:00"),
    ("parse_time('EEEE MMMM D e w x', 0)", "Thursday January 1 4 1 1970"),
    ("parse_time('k K ZZZ', 0, 'America/New_York')", "19 7 America/New_York"),
    ("parse_time('yyyy', 0, 'Mars/Olympus')", UNDEFINED), ("parse_time('yyyy q', 0)", UNDEFINED),
    ("parse_time('yyyy', 'x')", UNDEFINED),
    ("time_to_epoch('2021-03-04T05:06:07.5+02:00', \"yyyy-MM-dd'T'HH:mm:ss.SXXX\")", 1614827167500),
    ("time_to_epoch('07/04/21 01:02 PM', 'MM/dd/yy hh:mm a')", 1625403720000),
    ("time_to_epoch('Mar 4 2021', 'MMM d yyyy')", 1614816000000),
    ("time_to_epoch('garbage', 'yyyy')", UNDEFINED), ("time_to_epoch('2021', 'yyyy')", UNDEFINED),
])
def test_time_functions(expression: str, expected: Value) -> None:
    assert value_of(expression) == expected


def test_functions_of_2016_are_refused_in_2015() -> None:
    with pytest.raises(SqlSyntaxError, match="needs SQL version 2016-03-23"):
        compile_rule("SELECT isUndefined(a) FROM 'x'", sql_version="2015-10-08")
    with pytest.raises(SqlSyntaxError, match="needs SQL version 2016-03-23"):
        compile_rule("SELECT [1] AS a FROM 'x'", sql_version="2015-10-08")


def test_unknown_function_is_a_syntax_error_and_wrong_arity_is_undefined() -> None:
    with pytest.raises(SqlSyntaxError, match=r"unknown function nosuch\(\)") as caught:
        compile_rule("SELECT a,\n nosuch(1) FROM 'x'")
    assert (caught.value.line, caught.value.column) == (2, 2)
    assert value_of("upper('a', 'b')") is UNDEFINED


class Lookup:
    """A resolver answering get_dynamodb from a dict and failing for aws_lambda."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[JsonValue], str]] = []

    def call(self, name: str, args: Sequence[JsonValue], message: Message) -> JsonValue:
        self.calls.append((name, list(args), message.topic))
        if name == "aws_lambda":
            raise RuntimeError("lambda timed out")
        return {"location": {"floor": 2, "x": 1.5}}


def test_service_functions_need_a_resolver() -> None:
    sql = "SELECT get_dynamodb('t', 'id', id, 'arn:aws:iam::1:role/r').location AS loc FROM 'a/#'"
    with pytest.raises(FunctionNotAvailable, match="not available locally"):
        compile_rule(sql)
    resolver = Lookup()
    rule = compile_rule(sql, resolver=resolver)
    output = rule.evaluate("$aws/rules/r/a/b", json.dumps({"id": 7}).encode())
    assert output == {"loc": {"floor": 2, "x": 1.5}}
    assert resolver.calls == [("get_dynamodb", ["t", "id", 7, "arn:aws:iam::1:role/r"], "a/b")]


def test_a_failing_service_call_is_undefined() -> None:
    rule = compile_rule("SELECT aws_lambda('arn', *) AS out, 1 AS one FROM 'a'", resolver=Lookup())
    assert rule.evaluate("a", b"{}") == {"one": 1}


def test_encode_star_encodes_the_payload_bytes_as_received() -> None:
    raw = b'{"b": 1,  "a": 2}'
    assert value_of("encode(*, 'base64')", raw) == base64.b64encode(raw).decode()


@pytest.mark.parametrize(("expression", "expected"), [
    # RFC 1319's test suite; a number is hashed as its String conversion, as md5 is
    ("md2('')", "8350e5a3e24c153df2275c9f80692773"), ("md2('abc')", "da853b0d3f88d99b30283a69e6ded6bb"),
    ("md2('message digest')", "ab4f496bfb2a530b219ff33031fe06b0"), ("md2(7) = md2('7')", True),
    ("md2(x)", UNDEFINED),
])
def test_md2(expression: str, expected: Value) -> None:
    assert value_of(expression) == expected
