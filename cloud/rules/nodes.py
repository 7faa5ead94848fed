"""The syntax tree of an IoT SQL statement: frozen dataclasses, one per construct."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias

from cloud.rules.types import Value


@dataclass(frozen=True, slots=True)
class Literal:
    """A number, string, TRUE/FALSE or NULL written in the SQL."""

    value: Value
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Field:
    """A bare name: a member of the payload (or of the current element in a nested query)."""

    name: str
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Variable:
    """``@name``, bound by the SET clause."""

    name: str
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Star:
    """``*``: the whole payload (in SELECT, or as a function argument such as ``encode(*, 'base64')``)."""

    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Member:
    """``target.name``."""

    target: Expr
    name: str
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Index:
    """``target[index]`` (0-based)."""

    target: Expr
    index: Expr
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Call:
    """A function call; ``name`` is lower case (function names are case-insensitive)."""

    name: str
    args: tuple[Expr, ...]
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Cast:
    """``cast(operand AS type)``; ``type_name`` is lower case."""

    operand: Expr
    type_name: str
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Unary:
    """``-x`` or ``NOT x``."""

    op: str
    operand: Expr
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Binary:
    """An infix operator: arithmetic, comparison, AND, OR or IN."""

    op: str
    left: Expr
    right: Expr
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Case:
    """``CASE subject WHEN t THEN r ... [ELSE e] END``; without a subject each WHEN is a condition."""

    subject: Expr | None
    whens: tuple[tuple[Expr, Expr], ...]
    default: Expr | None
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class ObjectLiteral:
    """``{'key': expr, ...}``."""

    items: tuple[tuple[str, Expr], ...]
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class ArrayLiteral:
    """``[expr, ...]``."""

    items: tuple[Expr, ...]
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Projection:
    """One SELECT item; ``alias`` is the output key (a dotted alias makes nested objects)."""

    expr: Expr
    alias: str | None = None


SelectItem: TypeAlias = "Star | Projection"


@dataclass(frozen=True, slots=True)
class Query:
    """SELECT [VALUE] items FROM source [WHERE condition].

    ``source`` is the topic filter of a top-level query (None when FROM is omitted, as basic-ingest
    rules may) and an expression for a nested query over an array or object.
    """

    items: tuple[SelectItem, ...]
    value: bool
    source: str | Expr | None
    where: Expr | None
    source_pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Subquery:
    """A nested ``(SELECT ... FROM expr [WHERE ...])``."""

    query: Query
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Statement:
    """A whole rule: ``[SET @v = expr, ...] SELECT ...``."""

    assignments: tuple[tuple[str, Expr], ...]
    query: Query


Expr: TypeAlias = (
    "Literal | Field | Variable | Star | Member | Index | Call | Cast | Unary | Binary | Case"
    " | ObjectLiteral | ArrayLiteral | Subquery"
)
