"""Standard conversions of https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-data-types.html"""

from __future__ import annotations

from decimal import Decimal

import pytest

from cloud.rules.types import (
    UNDEFINED,
    UndefinedType,
    Value,
    dumps,
    same_value,
    to_boolean,
    to_decimal,
    to_json,
    to_string,
    type_name,
)


def test_undefined_is_a_falsy_singleton() -> None:
    assert UndefinedType() is UNDEFINED
    assert not UNDEFINED
    assert repr(UNDEFINED) == "Undefined"


@pytest.mark.parametrize(("value", "name"), [
    (1, "Int"), (Decimal("1.5"), "Decimal"), (True, "Boolean"), ("s", "String"), ([1], "Array"),
    ({"a": 1}, "Object"), (None, "Null"), (UNDEFINED, "Undefined"), (b"\x00", "Binary"),
])
def test_type_names(value: Value, name: str) -> None:
    assert type_name(value) == name


@pytest.mark.parametrize(("text", "expected"), [
    ("0", Decimal(0)), ("-1.2", Decimal("-1.2")), ("5E-12", Decimal("5E-12")), ("5e3", Decimal("5e3")),
    (" 1", None), ("+1", None), (".5", None), ("1.", None), ("abc", None), ("1e", None),
])
def test_strings_convert_to_decimal_only_in_aws_form(text: str, expected: Decimal | None) -> None:
    assert to_decimal(text) == expected


@pytest.mark.parametrize(("value", "expected"), [
    (True, True), ("TRUE", True), ("False", False), ("yes", None), (1, None), (None, None), (UNDEFINED, None),
])
def test_to_boolean(value: Value, expected: bool | None) -> None:
    assert to_boolean(value) is expected


@pytest.mark.parametrize(("value", "expected"), [
    (12, "12"), (Decimal("1.50"), "1.50"), (Decimal("1E+3"), "1E+3"), (False, "false"), ("x", "x"),
    ([1, "a", None, True], '[1,"a",null,true]'), ({"k": Decimal("2.5")}, '{"k":2.5}'), (None, None),
    (UNDEFINED, None),
])
def test_to_string(value: Value, expected: str | None) -> None:
    assert to_string(value) == expected


def test_undefined_members_are_dropped_on_output() -> None:
    value: Value = {"foo": None, "bar": UNDEFINED, "list": [1, UNDEFINED], "d": Decimal("2.5")}
    assert to_json(value) == {"foo": None, "list": [1], "d": 2.5}
    assert dumps(value) == '{"foo":null,"list":[1],"d":2.5}'


def test_same_value_compares_numbers_across_int_and_decimal_but_not_booleans() -> None:
    assert same_value(1, Decimal("1.0"))
    assert not same_value(True, 1)
    assert same_value({"a": [1, {"b": 2}]}, {"a": [Decimal(1), {"b": 2}]})
    assert not same_value([1, 2], [1, 2, 3])
