"""IoT Events condition and value expressions, compiled once to a safe evaluator.

The syntax follows AWS IoT Events (iotevents-expressions.md): ``$input.<point>`` (here the device's
latest value of a point, whose name may hold dots: ``$input.Reefer.ReturnAir``),
``$variable.<name>``, literals (numbers, 'strings', ``true``, ``false``), ``&& || !``,
comparisons, arithmetic, and the functions ``timeout("timer")`` (true only in the evaluation a
timer's expiry starts), ``isUndefined(x)``, ``abs(x)``, ``max(a, b)`` and ``min(a, b)``. An
expression over an undefined value or of mismatched types evaluates to undefined, which a
condition takes as false.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(r"""\s*(?:
    (?P<ref>\$(?:input|variable)\.[A-Za-z_][\w.-]*)
  | (?P<str>'[^']*'|"[^"]*")
  | (?P<num>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_]\w*)
  | (?P<op>&&|\|\||==|!=|<=|>=|[-+*/%<>!(),])
)""", re.VERBOSE)
_OPS = {"&&": " and ", "||": " or ", "!": " not "}
_NAMES = {"true": "True", "false": "False"}
_FUNCTIONS = frozenset({"timeout", "isUndefined", "abs", "max", "min", "_in", "_var"})
_NODES = (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd,
          ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Mod, ast.Compare, ast.Eq, ast.NotEq,
          ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Call, ast.Name, ast.Load, ast.Constant)


class ExpressionError(ValueError):
    """An expression that does not parse; the message names the expression."""


@dataclass(frozen=True, slots=True)
class Scope:
    """What an expression sees: inputs, variables and the timer that expired (if any)."""

    inputs: Mapping[str, Any]
    variables: Mapping[str, Any]
    expired_timer: str | None = None


class Expression:
    """A compiled expression; ``evaluate`` returns its value, or None when undefined."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._code = compile(_translate(source), f"<expression {source!r}>", "eval")

    def evaluate(self, scope: Scope) -> Any:
        names: dict[str, Callable[..., Any]] = {
            "_in": scope.inputs.get, "_var": scope.variables.get,
            "timeout": lambda name: name == scope.expired_timer,
            "isUndefined": lambda value: value is None, "abs": abs, "max": max, "min": min,
        }
        try:
            return eval(self._code, {"__builtins__": {}}, names)
        except (TypeError, ZeroDivisionError, ValueError, ArithmeticError):
            return None

    def holds(self, scope: Scope) -> bool:
        """As a condition: true only when the value is ``true``."""
        return self.evaluate(scope) is True


def _translate(source: str) -> str:
    out, at = [], 0
    source = source.strip()
    while at < len(source):
        match = _TOKEN.match(source, at)
        if match is None or match.end() == at:
            raise ExpressionError(f"expression {source!r}: cannot read {source[at:]!r}")
        at = match.end()
        kind, text = match.lastgroup, match.group(match.lastgroup or "")
        if kind == "ref":
            scope, _, name = text[1:].partition(".")
            out.append(f"{'_in' if scope == 'input' else '_var'}({name!r})")
        elif kind == "op":
            out.append(_OPS.get(text, text))
        elif kind == "name":
            out.append(_NAMES.get(text, text))
        else:
            out.append(text)
    python = " ".join(out)
    try:
        tree = ast.parse(python, mode="eval")
    except SyntaxError:
        raise ExpressionError(f"expression {source!r} does not parse") from None
    for node in ast.walk(tree):
        if not isinstance(node, _NODES):
            raise ExpressionError(f"expression {source!r}: {type(node).__name__} is not allowed")
        if isinstance(node, ast.Name) and node.id not in _FUNCTIONS | {"True", "False"}:
            raise ExpressionError(f"expression {source!r}: unknown name {node.id!r}")
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and not node.keywords):
            raise ExpressionError(f"expression {source!r}: only plain function calls are allowed")
    return python
