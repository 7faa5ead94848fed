"""The IoT SQL operators, following the operand tables of
https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-operators.html

Int op Int stays Int (``/`` truncates toward zero and ``%`` keeps the dividend's sign, as Java's long
arithmetic that the rules engine runs on); anything with a Decimal, or a numeric String where the table
allows it, is Decimal arithmetic at 34 digits. Operands outside a table give Undefined.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from cloud.rules.types import (
    DECIMAL,
    UNDEFINED,
    ArithmeticFailure,
    Value,
    same_value,
    to_boolean,
    to_decimal,
    to_number,
    to_string,
    whole_as_int,
)

BinaryOp = Callable[[Value, Value], Value]
UnaryOp = Callable[[Value], Value]
Normalise = Callable[[Decimal], "int | Decimal"]


def keep_decimal(number: Decimal) -> Decimal:
    """SQL 2015-10-08 keeps whole-number Decimals as Decimals."""
    return number


def normaliser(sql_version: str) -> Normalise:
    """How Decimal results are stored: 2016-03-23 turns whole numbers (``10.0``) into Ints."""
    return keep_decimal if sql_version == "2015-10-08" else whole_as_int


def _java_div(a: int, b: int) -> int:
    quotient = abs(a) // abs(b)
    return quotient if (a >= 0) == (b >= 0) else -quotient


def _java_rem(a: int, b: int) -> int:
    remainder = abs(a) % abs(b)
    return remainder if a >= 0 else -remainder


def _decimal_operands(left: Value, right: Value) -> tuple[Decimal, Decimal] | None:
    a, b = to_decimal(left), to_decimal(right)
    if a is None or b is None:
        return None
    return a, b


def binary_operators(normalise: Normalise) -> dict[str, BinaryOp]:
    """The binary operators of one SQL version, by their SQL spelling."""

    def arithmetic(int_op: Callable[[int, int], int],
                   decimal_op: Callable[[Decimal, Decimal], Decimal]) -> BinaryOp:
        def apply(left: Value, right: Value) -> Value:
            if type(left) is int and type(right) is int:
                try:
                    return int_op(left, right)
                except ZeroDivisionError:
                    return UNDEFINED
            operands = _decimal_operands(left, right)
            if operands is None:
                return UNDEFINED
            try:
                return normalise(decimal_op(*operands))
            except ArithmeticFailure:
                return UNDEFINED
        return apply

    def plus(left: Value, right: Value) -> Value:
        if type(left) is int and type(right) is int:
            return left + right
        if type(left) is str or type(right) is str:
            a, b = to_string(left), to_string(right)
            return UNDEFINED if a is None or b is None else a + b
        kl, kr = type(left), type(right)
        if (kl is int or kl is Decimal) and (kr is int or kr is Decimal):
            operands = _decimal_operands(left, right)
            if operands is not None:
                try:
                    return normalise(DECIMAL.add(*operands))
                except ArithmeticFailure:
                    return UNDEFINED
        return UNDEFINED

    return {
        "+": plus,
        "-": arithmetic(lambda a, b: a - b, DECIMAL.subtract),
        "*": arithmetic(lambda a, b: a * b, DECIMAL.multiply),
        "/": arithmetic(_java_div, DECIMAL.divide),
        "%": arithmetic(_java_rem, DECIMAL.remainder),
        "=": equals,
        "<>": not_equals,
        "<": _comparison(lambda a, b: a < b),
        "<=": _comparison(lambda a, b: a <= b),
        ">": _comparison(lambda a, b: a > b),
        ">=": _comparison(lambda a, b: a >= b),
        "AND": _logical(lambda a, b: a and b),
        "OR": _logical(lambda a, b: a or b),
        "IN": contained_in,
    }


def unary_operators(normalise: Normalise) -> dict[str, UnaryOp]:
    """``-`` and ``NOT``."""

    def negate(operand: Value) -> Value:
        if type(operand) is int:
            return -operand
        number = to_number(operand)
        if number is None:
            return UNDEFINED
        return normalise(-number) if isinstance(number, Decimal) else -number

    def logical_not(operand: Value) -> Value:
        flag = to_boolean(operand)
        return UNDEFINED if flag is None else not flag

    return {"-": negate, "NOT": logical_not}


def equals(left: Value, right: Value) -> Value:
    """``=``: Undefined if either side is Undefined; mismatched types are not equal."""
    if left is UNDEFINED or right is UNDEFINED:
        return UNDEFINED
    return same_value(left, right)


def not_equals(left: Value, right: Value) -> Value:
    """``<>``: the negation of ``=``, Undefined if either side is Undefined."""
    if left is UNDEFINED or right is UNDEFINED:
        return UNDEFINED
    return not same_value(left, right)


def contained_in(left: Value, right: Value) -> Value:
    """``x IN array``: whether any element of the array equals x."""
    if left is UNDEFINED or type(right) is not list:
        return UNDEFINED
    return any(same_value(left, item) for item in right)


def _comparison(compare: Callable[[int | Decimal, int | Decimal], bool]) -> BinaryOp:
    def apply(left: Value, right: Value) -> Value:
        a, b = to_number(left), to_number(right)
        if a is None or b is None:
            return UNDEFINED
        return compare(a, b)
    return apply


def _logical(combine: Callable[[bool, bool], bool]) -> BinaryOp:
    def apply(left: Value, right: Value) -> Value:
        a, b = to_boolean(left), to_boolean(right)
        if a is None or b is None:
            return UNDEFINED
        return combine(a, b)
    return apply
