"""Mathematical functions (abs, ceil, floor, round, trunc, mod, power, trig, bit operations, ...).

https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-functions.html: functions documented as
"Decimal (with double precision)" compute on a double; the others keep Int / 34-digit Decimal.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_UP, Context, Decimal

from cloud.rules.functions.base import Function, as_double, from_double, pure
from cloud.rules.operators import binary_operators, keep_decimal
from cloud.rules.types import UNDEFINED, ArithmeticFailure, Value, to_int_floor, to_number

_TRUNC_MAX_PLACES = 34
_WIDE = Context(prec=1100, Emax=999_999, Emin=-999_999)  # room for any Decimal the engine holds


def _double_function(fn: Callable[..., float]) -> Callable[..., Value]:
    def apply(*args: Value) -> Value:
        doubles = [as_double(arg) for arg in args]
        if any(d is None for d in doubles):
            return UNDEFINED
        try:
            return from_double(fn(*doubles))
        except (ValueError, OverflowError, ZeroDivisionError):
            return UNDEFINED  # imaginary or out-of-range results are Undefined
    return apply


def _rounding(mode: str) -> Callable[[Value], Value]:
    def apply(value: Value) -> Value:
        number = to_number(value)
        if number is None:
            return UNDEFINED
        if isinstance(number, int):
            return number
        try:
            return int(number.to_integral_value(rounding=mode))
        except ArithmeticFailure:
            return UNDEFINED
    return apply


def _abs(value: Value) -> Value:
    number = to_number(value)
    if number is None:
        return UNDEFINED
    return abs(number) if isinstance(number, int) else number.copy_abs()


def _sign(value: Value) -> Value:
    number = to_number(value)
    if number is None:
        return UNDEFINED
    return int(number > 0) - int(number < 0)


def _trunc(value: Value, places: Value) -> Value:
    number, digits = to_number(value), to_int_floor(places)
    if number is None or digits is None:
        return UNDEFINED
    if isinstance(number, int):
        return number
    digits = min(max(digits, 0), _TRUNC_MAX_PLACES)
    truncated = number
    if -int(number.as_tuple().exponent) > digits:  # more decimal places than asked: cut (never widens)
        try:
            truncated = number.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_DOWN, context=_WIDE)
        except ArithmeticFailure:
            return UNDEFINED
    truncated = truncated.normalize(_WIDE)
    # "Trailing zeroes are stripped from the result": trunc(2.00, 5) = 2
    return int(truncated) if truncated == truncated.to_integral_value() else truncated


def _bitwise(op: Callable[[int, int], int]) -> Callable[[Value, Value], Value]:
    def apply(left: Value, right: Value) -> Value:
        a, b = to_int_floor(left), to_int_floor(right)
        return UNDEFINED if a is None or b is None else op(a, b)
    return apply


def _bitnot(value: Value) -> Value:
    number = to_int_floor(value)
    return UNDEFINED if number is None else ~number


# mod and remainder are the % operator; the version's normaliser is applied by the caller.
_remainder = binary_operators(keep_decimal)["%"]

FUNCTIONS: tuple[Function, ...] = (
    Function("abs", pure(_abs), 1, 1),
    Function("ceil", pure(_rounding(ROUND_CEILING)), 1, 1),
    Function("floor", pure(_rounding(ROUND_FLOOR)), 1, 1),
    # "If the Decimal is equidistant from two Int values (for example, 0.5), the Decimal is rounded up";
    # the examples give round(-1.5) = -2, i.e. half away from zero.
    Function("round", pure(_rounding(ROUND_HALF_UP)), 1, 1),
    Function("trunc", pure(_trunc), 2, 2),
    Function("sign", pure(_sign), 1, 1),
    Function("mod", pure(_remainder), 2, 2),
    Function("remainder", pure(_remainder), 2, 2),
    Function("power", pure(_double_function(math.pow)), 2, 2),
    Function("sqrt", pure(_double_function(math.sqrt)), 1, 1),
    Function("exp", pure(_double_function(math.exp)), 1, 1),
    Function("ln", pure(_double_function(math.log)), 1, 1),
    Function("log", pure(_double_function(math.log10)), 1, 1),
    Function("sin", pure(_double_function(math.sin)), 1, 1),
    Function("cos", pure(_double_function(math.cos)), 1, 1),
    Function("tan", pure(_double_function(math.tan)), 1, 1),
    Function("asin", pure(_double_function(math.asin)), 1, 1),
    Function("acos", pure(_double_function(math.acos)), 1, 1),
    Function("atan", pure(_double_function(math.atan)), 1, 1),
    Function("atan2", pure(_double_function(math.atan2)), 2, 2),
    Function("sinh", pure(_double_function(math.sinh)), 1, 1),
    Function("cosh", pure(_double_function(math.cosh)), 1, 1),
    Function("tanh", pure(_double_function(math.tanh)), 1, 1),
    Function("rand", pure(lambda: from_double(random.random())), 0, 0),
    Function("bitand", pure(_bitwise(lambda a, b: a & b)), 2, 2),
    Function("bitor", pure(_bitwise(lambda a, b: a | b)), 2, 2),
    Function("bitxor", pure(_bitwise(lambda a, b: a ^ b)), 2, 2),
    Function("bitnot", pure(_bitnot), 1, 1),
)
