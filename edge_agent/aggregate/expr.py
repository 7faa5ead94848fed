"""Alarm conditions: a tiny expression language, parsed with :mod:`ast` and never ``eval``-ed.

Allowed: point names (dotted names such as ``pump1.flow`` too), numbers, ``true``/``false``
(or ``True``/``False``), comparisons (``< <= > >= == !=``, chained), ``and``/``or``/``not``,
``+ - * /``, unary minus, and ``abs(x)``. Anything else is refused when the condition is compiled.

A condition is *unknown* (``None``) when a point it needs has no usable value yet, or the
arithmetic fails (division by zero, a comparison of unlike types); ``and``/``or`` short-circuit
as in Python, so ``door_open and speed > 5`` is known to be false while the door is shut.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from edge_agent.envelope import Value

Values = Mapping[str, Value | None]
_Eval = Callable[[Values], Any]

MAX_LENGTH: Final = 2000
_LOWERCASE_BOOLS: Final = {"true": True, "false": False}
"""YAML and JSON spell booleans in lower case; conditions accept both spellings."""
_ALLOWED: Final = "use point names, numbers, true/false, comparisons, and/or/not, + - * / and abs()"
_BINARY: Final[dict[type[ast.operator], Callable[[Any, Any], Any]]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
}
_COMPARE: Final[dict[type[ast.cmpop], Callable[[Any, Any], Any]]] = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.Eq: operator.eq, ast.NotEq: operator.ne,
}


class ExpressionError(ValueError):
    """A condition that cannot be compiled; the message is one line for a user."""


class _Unknown(Exception):
    """A point the condition needs has no usable value."""


@dataclass(frozen=True, slots=True)
class Condition:
    """A compiled condition: the point names it reads and how to evaluate it."""

    text: str
    names: frozenset[str]
    _evaluate: _Eval

    def evaluate(self, values: Values) -> bool | None:
        """True or False, or None when unknown (see the module docstring)."""
        try:
            return bool(self._evaluate(values))
        except (_Unknown, ArithmeticError, TypeError, ValueError):
            return None


def compile_condition(text: str) -> Condition:
    """Compile a condition; raise :class:`ExpressionError` naming what is wrong and where."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"longer than {MAX_LENGTH} characters")
    source = " ".join(text.split())
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"syntax error at column {exc.offset}: {exc.msg}") from None
    except (RecursionError, MemoryError):
        raise ExpressionError("nested too deeply") from None
    names: set[str] = set()
    evaluate = _Compiler(source, names).compile(tree.body)
    return Condition(text, frozenset(names), evaluate)


class _Compiler:
    """Turns a vetted AST into nested closures."""

    def __init__(self, source: str, names: set[str]) -> None:
        self._source = source
        self._names = names

    def compile(self, node: ast.expr) -> _Eval:
        if isinstance(node, ast.Name) and node.id in _LOWERCASE_BOOLS:
            truth = _LOWERCASE_BOOLS[node.id]
            return lambda _: truth
        name = _dotted_name(node)
        if name is not None:
            self._names.add(name)
            return _lookup(name)
        if isinstance(node, ast.Constant) and type(node.value) in (bool, int, float):
            value = node.value
            return lambda _: value
        if isinstance(node, ast.BoolOp):
            return _all(self._each(node.values)) if isinstance(node.op, ast.And) \
                else _any(self._each(node.values))
        if isinstance(node, ast.UnaryOp):
            operand = self.compile(node.operand)
            if isinstance(node.op, ast.Not):
                return lambda v: not operand(v)
            if isinstance(node.op, ast.USub):
                return lambda v: -operand(v)
            if isinstance(node.op, ast.UAdd):
                return lambda v: +operand(v)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            op, left, right = _BINARY[type(node.op)], self.compile(node.left), self.compile(node.right)
            return lambda v: op(left(v), right(v))
        if isinstance(node, ast.Compare) and all(type(o) in _COMPARE for o in node.ops):
            return _chain(self.compile(node.left), [_COMPARE[type(o)] for o in node.ops],
                          self._each(node.comparators))
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "abs"
                and len(node.args) == 1 and not node.keywords):
            arg = self.compile(node.args[0])
            return lambda v: abs(arg(v))
        raise self._refuse(node)

    def _each(self, nodes: list[ast.expr]) -> list[_Eval]:
        return [self.compile(n) for n in nodes]

    def _refuse(self, node: ast.expr) -> ExpressionError:
        snippet = ast.get_source_segment(self._source, node) or type(node).__name__
        return ExpressionError(f"{snippet!r} is not allowed at column {node.col_offset + 1} ({_ALLOWED})")


def _dotted_name(node: ast.expr) -> str | None:
    """``pump1.flow`` parses as an attribute access; here it is simply a point name."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted_name(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _lookup(name: str) -> _Eval:
    def value(values: Values) -> Any:
        v = values.get(name)
        if v is None:
            raise _Unknown(name)
        return v
    return value


def _all(parts: list[_Eval]) -> _Eval:
    def evaluate(values: Values) -> Any:
        result: Any = True
        for part in parts:
            result = part(values)
            if not result:
                return result
        return result
    return evaluate


def _any(parts: list[_Eval]) -> _Eval:
    def evaluate(values: Values) -> Any:
        result: Any = False
        for part in parts:
            result = part(values)
            if result:
                return result
        return result
    return evaluate


def _chain(first: _Eval, ops: list[Callable[[Any, Any], Any]], rest: list[_Eval]) -> _Eval:
    def evaluate(values: Values) -> bool:
        left = first(values)
        for op, part in zip(ops, rest, strict=True):
            right = part(values)
            if not op(left, right):
                return False
            left = right
        return True
    return evaluate
