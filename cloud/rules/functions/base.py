"""The shape of an IoT SQL function and the helpers its implementations share."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from cloud.rules.context import Scope
from cloud.rules.types import UNDEFINED, Value, to_number

Impl = Callable[[Scope, Sequence[Value]], Value]

V2016: str = "2016-03-23"
V2015: str = "2015-10-08"


@dataclass(frozen=True, slots=True)
class Function:
    """A built-in function: its arity and the first SQL version that has it.

    A call with the wrong number of arguments is Undefined, as AWS documents for invalid arguments.
    """

    name: str
    impl: Impl
    min_args: int
    max_args: int | None
    since: str = V2015

    def accepts(self, count: int) -> bool:
        return self.min_args <= count and (self.max_args is None or count <= self.max_args)


def pure(fn: Callable[..., Value]) -> Impl:
    """Adapt a function of the argument values alone (most functions) to the :data:`Impl` shape."""
    def impl(scope: Scope, args: Sequence[Value]) -> Value:
        return fn(*args)
    return impl


def from_double(result: float) -> Value:
    """A double result as a Decimal (its shortest repr, as Java prints a double); NaN/inf are Undefined."""
    if math.isnan(result) or math.isinf(result):
        return UNDEFINED
    return Decimal(repr(result))


def as_double(value: Value) -> float | None:
    """Decimal arguments "are rounded to double precision before function application"."""
    number = to_number(value)
    return None if number is None else float(number)
