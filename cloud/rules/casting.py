"""``cast(value AS type)``: the standard conversions plus numbers to and from Booleans.

https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-functions.html#iot-sql-function-cast
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Final

from cloud.rules.types import UNDEFINED, Value, to_boolean, to_decimal, to_int_floor, to_number, to_string

Caster = Callable[[Value], Value]

# Decimal and Bool/Boolean are keywords of SQL 2016-03-23 only.
V2016_ONLY: Final = frozenset({"decimal", "bool", "boolean"})


def _to_string(value: Value) -> Value:
    text = to_string(value)
    return UNDEFINED if text is None else text


def _to_int(value: Value) -> Value:
    if type(value) is bool:
        return int(value)
    number = to_int_floor(value)
    return UNDEFINED if number is None else number


def _to_decimal(value: Value) -> Value:
    if type(value) is bool:
        return Decimal("1.0") if value else Decimal("0.0")
    number = to_decimal(value)
    return UNDEFINED if number is None else number


def _to_double(value: Value) -> Value:
    number = _to_decimal(value)
    return Decimal(repr(float(number))) if isinstance(number, Decimal) else number


def _to_boolean(value: Value) -> Value:
    number = to_number(value) if type(value) is not str else None
    if number is not None:
        return number != 0
    flag = to_boolean(value)
    return UNDEFINED if flag is None else flag


CASTS: Final[dict[str, Caster]] = {
    "string": _to_string, "nvarchar": _to_string, "text": _to_string, "ntext": _to_string,
    "varchar": _to_string, "int": _to_int, "integer": _to_int, "double": _to_double,
    "decimal": _to_decimal, "bool": _to_boolean, "boolean": _to_boolean,
}
