"""The operand tables of https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-operators.html"""

from __future__ import annotations

from decimal import Decimal

import pytest

from cloud.rules.types import UNDEFINED, Value

from .helpers import value_of

PAYLOAD = {"i": 7, "d": 2.5, "s": "abc", "n": "4.5", "t": "TRUE", "b": True, "z": None, "arr": [1, 2, 3],
           "obj": {"x": 1, "y": [1, 2]}}


@pytest.mark.parametrize(("expression", "expected"), [
    # AND / OR / NOT: Booleans, or the Strings "true"/"false" in any case
    ("b AND t", True), ("b AND 'false'", False), ("b AND i", UNDEFINED), ("false OR 'True'", True),
    ("z OR b", UNDEFINED), ("NOT b", False), ("NOT 'FALSE'", True), ("NOT i", UNDEFINED),
    ("missing AND false", UNDEFINED),
    # comparisons convert numeric Strings to Decimal, anything else is Undefined
    ("i > 6", True), ("i > n", True), ("'10' > '9'", True), ("d <= 2.5", True), ("d < 2.5", False),
    ("s > 1", UNDEFINED), ("'a' < 'b'", UNDEFINED), ("b >= 1", UNDEFINED), ("missing > 1", UNDEFINED),
    # = and <>
    ("i = 7.0", True), ("2.50 = d", True), ("s = 'abc'", True), ("'7' = i", False), ("arr = [1, 2, 3]", True),
    ("arr = [3, 2, 1]", False), ("obj = {'y': [1, 2], 'x': 1}", True), ("z = null", True),
    ("z <> null", False),
    ("i <> 'x'", True), ("missing = 1", UNDEFINED), ("1 <> missing", UNDEFINED), ("b = true", True),
    # + concatenates when either side is a String
    ("s + 1", "abc1"), ("1 + s", "1abc"), ("s + arr", "abc[1,2,3]"), ("s + b", "abctrue"),
    ("s + z", UNDEFINED),
    ("'1' + 2", "12"), ("i + 1", 8), ("i + d", Decimal("9.5")), ("b + 1", UNDEFINED), ("arr + 1", UNDEFINED),
    # - * / % convert numeric Strings
    ("i - 10", -3), ("n - 1", Decimal("3.5")), ("'3' - '1'", 2), ("s - 1", UNDEFINED),
    ("i * 3", 21), ("d * 2", 5), ("d * 3", Decimal("7.5")), ("n * '2'", 9),
    ("i / 2", 3), ("-7 / 2", -3), ("7 / -2", -3), ("i / 2.0", 3), ("i / 4.0", 1),
    ("7.5 / 2", Decimal("3.75")),
    ("1 / 0", UNDEFINED), ("1.5 / 0", UNDEFINED), ("1 / 3.0", 0), ("1.5 / 3", Decimal("0.5")),
    ("i % 3", 1), ("-7 % 3", -1), ("7 % -3", 1), ("7.5 % 2", Decimal("1.5")), ("i % 0", UNDEFINED),
    ("n % 2", Decimal("0.5")),
    # unary minus
    ("-i", -7), ("-n", Decimal("-4.5")), ("-s", UNDEFINED), ("-b", UNDEFINED),
    # IN over an Array
    ("2 IN arr", True), ("2.0 IN arr", True), ("5 IN arr", False), ("'1' IN arr", False),
    ("[1, 2] IN obj.y", False),
    ("1 IN s", UNDEFINED), ("missing IN arr", UNDEFINED), ("'abc' IN ['x', s]", True),
])
def test_operator_tables(expression: str, expected: Value) -> None:
    result = value_of(expression, PAYLOAD)
    assert result == expected
    assert type(result) is type(expected)


def test_decimal_arithmetic_has_34_digits() -> None:
    assert value_of("0.1 + 0.2") == Decimal("0.3")
    assert value_of("1 / 3.5") == Decimal("0.2857142857142857142857142857142857")


def test_whole_number_decimals_are_ints_in_2016_and_decimals_in_2015() -> None:
    assert value_of("x / 4", {"x": 10.0}) == 2
    assert value_of("x / 4", {"x": 10.0}, sql_version="2015-10-08") == Decimal("2.5")
    assert type(value_of("x", {"x": 10.0}, sql_version="2015-10-08")) is Decimal


def test_where_cannot_see_select_aliases() -> None:
    from cloud.rules import compile_rule

    rule = compile_rule("SELECT temp AS t FROM 'a' WHERE t > 1")
    assert rule.evaluate("a", b'{"temp": 5}') is None
    assert rule.evaluate("a", b'{"temp": 5, "t": 2}') == {"t": 5}
