"""Syntax tree back to IoT SQL text: fully parenthesised, so that ``parse(to_sql(tree)) == tree``."""

from __future__ import annotations

from decimal import Decimal

from cloud.rules.nodes import (
    ArrayLiteral,
    Binary,
    Call,
    Case,
    Cast,
    Expr,
    Field,
    Index,
    Literal,
    Member,
    ObjectLiteral,
    Projection,
    Query,
    SelectItem,
    Star,
    Statement,
    Unary,
    Variable,
)
from cloud.rules.types import Value


def to_sql(node: Statement | Expr) -> str:
    """The SQL text of a statement or an expression."""
    if isinstance(node, Statement):
        text = _query(node.query)
        if node.assignments:
            text = "SET " + ", ".join(f"@{name} = {_expr(e)}" for name, e in node.assignments) + " " + text
        return text
    return _expr(node)


def quote(text: str) -> str:
    """A single-quoted string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _literal(value: Value) -> str:
    if value is None:
        return "NULL"
    if value is True or value is False:
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, str):
        return quote(value)
    raise ValueError(f"no SQL literal for {value!r}")


def _postfix_target(node: Expr) -> str:
    text = _expr(node)
    return text if isinstance(node, Field | Member | Index | Call | Variable | Cast) else f"({text})"


def _expr(node: Expr) -> str:
    if isinstance(node, Literal):
        return _literal(node.value)
    if isinstance(node, Field):
        return node.name
    if isinstance(node, Variable):
        return f"@{node.name}"
    if isinstance(node, Star):
        return "*"
    if isinstance(node, Member):
        return f"{_postfix_target(node.target)}.{node.name}"
    if isinstance(node, Index):
        return f"{_postfix_target(node.target)}[{_expr(node.index)}]"
    if isinstance(node, Call):
        return f"{node.name}({', '.join(_expr(a) for a in node.args)})"
    if isinstance(node, Cast):
        return f"cast({_expr(node.operand)} AS {node.type_name})"
    if isinstance(node, Unary):
        return f"({node.op} {_expr(node.operand)})"
    if isinstance(node, Binary):
        return f"({_expr(node.left)} {node.op} {_expr(node.right)})"
    if isinstance(node, Case):
        parts = ["CASE"] if node.subject is None else ["CASE", _expr(node.subject)]
        parts += [f"WHEN {_expr(t)} THEN {_expr(r)}" for t, r in node.whens]
        if node.default is not None:
            parts.append(f"ELSE {_expr(node.default)}")
        return " ".join([*parts, "END"])
    if isinstance(node, ObjectLiteral):
        return "{" + ", ".join(f"{quote(k)}: {_expr(v)}" for k, v in node.items) + "}"
    if isinstance(node, ArrayLiteral):
        return "[" + ", ".join(_expr(i) for i in node.items) + "]"
    return f"({_query(node.query)})"


def _item(item: SelectItem) -> str:
    if isinstance(item, Projection):
        return _expr(item.expr) + ("" if item.alias is None else f" AS {item.alias}")
    return "*"


def _query(query: Query) -> str:
    text = "SELECT " + ("VALUE " if query.value else "") + ", ".join(_item(i) for i in query.items)
    if isinstance(query.source, str):
        text += f" FROM {quote(query.source)}"
    elif query.source is not None:
        text += f" FROM {_expr(query.source)}"
    if query.where is not None:
        text += f" WHERE {_expr(query.where)}"
    return text
