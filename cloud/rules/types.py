"""IoT SQL values: the Undefined sentinel, the type of a value and AWS's standard conversions.

Values inside the engine are plain Python objects: ``None`` is Null, ``bool`` Boolean, ``int`` Int,
``decimal.Decimal`` Decimal (34 digits, as AWS), ``str`` String, ``list`` Array, ``dict`` Object,
``bytes`` a binary (non-JSON) payload and :data:`UNDEFINED` the Undefined of AWS IoT SQL.
Conversion rules follow https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-data-types.html
"""

from __future__ import annotations

import base64
import json
import re
from decimal import ROUND_FLOOR, Context, Decimal, DivisionByZero, InvalidOperation, Overflow
from typing import Final, TypeAlias, cast


class UndefinedType:
    """The Undefined of AWS IoT SQL: not a value, omitted when a result is serialised."""

    _instance: UndefinedType | None = None

    def __new__(cls) -> UndefinedType:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "Undefined"

    def __bool__(self) -> bool:
        return False


UNDEFINED: Final = UndefinedType()

Value: TypeAlias = (
    "bool | int | Decimal | str | list[Value] | dict[str, Value] | bytes | UndefinedType | None"
)
JsonValue: TypeAlias = "bool | int | float | str | list[JsonValue] | dict[str, JsonValue] | None"

# Decimal arithmetic as AWS documents it: 34 significant digits, magnitudes up to 9.999...E999.
DECIMAL: Final = Context(prec=34, Emax=999, Emin=-999, traps=[InvalidOperation, DivisionByZero, Overflow])
ArithmeticFailure: Final = (ArithmeticError, ValueError)
INT_DIGITS: Final = 34  # "Int: A discrete Int. 34 digits maximum."

# AWS converts a String to a Decimal only when it matches ^-?\d+(\.\d+)?((?i)E-?\d+)?$ (data types page).
_NUMERIC_STRING: Final = re.compile(r"-?\d+(?:\.\d+)?(?:[eE]-?\d+)?")


def type_name(value: Value) -> str:
    """The AWS type name of a value (``Int``, ``Decimal``, ``String``, ... or ``Binary``)."""
    if value is None:
        return "Null"
    kind = type(value)
    if kind is bool:
        return "Boolean"
    return _TYPE_NAMES.get(kind, "Undefined")


_TYPE_NAMES: Final[dict[type, str]] = {
    int: "Int", Decimal: "Decimal", str: "String", list: "Array", dict: "Object", bytes: "Binary",
}


def whole_as_int(number: Decimal) -> int | Decimal:
    """SQL 2016-03-23 processes a whole-number Decimal (``10.0``) as the Int ``10`` (an Int has at most
    34 digits, so larger whole numbers stay Decimal)."""
    if number.is_finite() and number.adjusted() < INT_DIGITS and number == number.to_integral_value():
        return int(number)
    return number


def string_to_decimal(text: str) -> Decimal | None:
    """The Decimal a String converts to, or None when it is not a number in AWS's accepted form."""
    if _NUMERIC_STRING.fullmatch(text) is None:
        return None
    try:
        return DECIMAL.create_decimal(text)
    except ArithmeticFailure:
        return None


def to_number(value: Value) -> int | Decimal | None:
    """Int or Decimal for a number or a numeric String; None for anything else (the caller's Undefined)."""
    if type(value) is int or type(value) is Decimal:
        return value
    if type(value) is str:
        return string_to_decimal(value)
    return None


def to_decimal(value: Value) -> Decimal | None:
    """The standard conversion to Decimal, None when it is Undefined."""
    number = to_number(value)
    if number is None:
        return None
    return number if isinstance(number, Decimal) else Decimal(number)


def to_int_floor(value: Value) -> int | None:
    """Int, or a Decimal / numeric String rounded down: the rule of most functions taking an Int."""
    number = to_number(value)
    if number is None:
        return None
    if isinstance(number, int):
        return number
    try:
        return int(number.to_integral_value(rounding=ROUND_FLOOR))
    except ArithmeticFailure:
        return None


def to_boolean(value: Value) -> bool | None:
    """Boolean, or the String "true"/"false" in any case; None for anything else."""
    if type(value) is bool:
        return value
    if type(value) is str:
        lowered = value.lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
    return None


def to_string(value: Value) -> str | None:
    """The standard conversion to String; None (Undefined) for Null and Undefined."""
    if type(value) is str:
        return value
    if type(value) is bool:
        return "true" if value else "false"
    if type(value) is int:
        return str(value)
    if type(value) is Decimal:
        return str(value)  # plain, or scientific for large exponents, as Java's BigDecimal prints
    if type(value) is list or type(value) is dict:
        return dumps(value)
    if type(value) is bytes:
        return value.decode("utf-8", errors="replace")
    return None


def dumps(value: Value) -> str:
    """Compact JSON text of a value; Undefined members are left out, binary becomes base64."""
    return json.dumps(to_json(value), separators=(",", ":"), ensure_ascii=False)


def to_json(value: Value) -> JsonValue:
    """A value as plain JSON-ready Python: Decimal becomes float, binary base64, Undefined is dropped.

    A top-level Undefined becomes None; use :func:`output` to keep the distinction.
    """
    if type(value) is dict:
        out: dict[str, JsonValue] = {}
        for key, member in value.items():
            kind = type(member)
            if kind is str or kind is int or kind is bool or member is None:
                out[key] = member  # type: ignore[assignment]
            elif member is not UNDEFINED:
                out[key] = to_json(member)
        return out
    if type(value) is list:
        return [to_json(v) for v in value if v is not UNDEFINED]
    if type(value) is Decimal:
        return float(value)
    if type(value) is bytes:
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, UndefinedType):
        return None
    return cast("JsonValue", value)


def same_value(left: Value, right: Value) -> bool:
    """Deep equality with AWS's rules: Int and Decimal compare as numbers, key order is irrelevant."""
    kl, kr = type(left), type(right)
    if kl is kr and kl is not list and kl is not dict:
        return bool(left == right)
    if (kl is int or kl is Decimal) and (kr is int or kr is Decimal):
        return bool(left == right)
    if type(left) is list and type(right) is list:
        return len(left) == len(right) and all(same_value(a, b) for a, b in zip(left, right, strict=True))
    if type(left) is dict and type(right) is dict:
        return left.keys() == right.keys() and all(same_value(v, right[k]) for k, v in left.items())
    return False
