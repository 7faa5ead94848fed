"""Compiles a syntax tree into a plan of closures: compile once, evaluate each message fast.

Every compiled expression is a function ``(scope, row) -> Value``; ``row`` is what bare names refer to
(the payload, or the current element inside a nested query).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Final

from cloud.rules.casting import CASTS, V2016_ONLY
from cloud.rules.context import FunctionResolver, Scope
from cloud.rules.errors import FunctionNotAvailable, SqlSyntaxError
from cloud.rules.functions import FUNCTIONS, SERVICE_FUNCTION_NAMES
from cloud.rules.functions.base import V2015
from cloud.rules.functions.misc import get
from cloud.rules.lexer import syntax_error
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
    Subquery,
    Unary,
    Variable,
)
from cloud.rules.operators import binary_operators, normaliser, unary_operators
from cloud.rules.types import UNDEFINED, Value, same_value, to_boolean

log = logging.getLogger(__name__)

Evaluator = Callable[[Scope, Value], Value]
SQL_VERSIONS: Final = ("2016-03-23", "2015-10-08")


class Compiler:
    """Turns expressions and queries of one statement into evaluators.

    ``variables`` are the @names bound so far (None: any name, as in substitution templates, where a
    missing variable is Undefined).
    """

    def __init__(self, source: str, sql_version: str, resolver: FunctionResolver | None,
                 variables: set[str] | None = None) -> None:
        self.source = source
        self.sql_version = sql_version
        self.resolver = resolver
        self.variables = variables
        self.normalise = normaliser(sql_version)
        self.binary = binary_operators(self.normalise)
        self.unary = unary_operators(self.normalise)

    def error(self, pos: int, message: str, expected: str | None = None) -> SqlSyntaxError:
        return syntax_error(self.source, pos, message, expected)

    def require_2016(self, pos: int, what: str) -> None:
        if self.sql_version == V2015:
            raise self.error(pos, f"{what} needs SQL version 2016-03-23 (this rule uses 2015-10-08)")

    # -- expressions -------------------------------------------------------------------------------------
    def expr(self, node: Expr, *, nested: bool = False) -> Evaluator:
        """The evaluator of one expression (``nested``: inside a nested query)."""
        if isinstance(node, Field):
            return _path_reader((node.name,))
        path = _field_path(node)
        if path is not None:
            return _path_reader(path)
        if isinstance(node, Literal):
            return self.literal(node)
        if isinstance(node, Variable):
            return self.variable(node)
        if isinstance(node, Star):
            return lambda scope, row: row
        if isinstance(node, Member | Index):
            return self.access(node, nested)
        if isinstance(node, Call):
            return self.call(node, nested)
        if isinstance(node, Cast):
            return self.cast(node, nested)
        if isinstance(node, Unary):
            return self.unary_op(node, nested)
        if isinstance(node, Binary):
            return self.binary_op(node, nested)
        if isinstance(node, Case):
            return self.case(node, nested)
        if isinstance(node, ObjectLiteral | ArrayLiteral):
            return self.collection(node, nested)
        return self.subquery(node)

    def literal(self, node: Literal) -> Evaluator:
        value = node.value
        if isinstance(value, Decimal):
            value = self.normalise(value)
        return lambda scope, row: value

    def variable(self, node: Variable) -> Evaluator:
        name = node.name
        if self.variables is not None and name not in self.variables:
            raise self.error(node.pos, f"variable @{name} is not set", "a variable bound by SET before use")
        return lambda scope, row: scope.variables.get(name, UNDEFINED)

    def access(self, node: Member | Index, nested: bool) -> Evaluator:
        target = self.expr(node.target, nested=nested)
        if isinstance(node, Member):
            name = node.name

            def member(scope: Scope, row: Value) -> Value:
                value = target(scope, row)
                return value.get(name, UNDEFINED) if type(value) is dict else UNDEFINED
            return member
        index = self.expr(node.index, nested=nested)

        def element(scope: Scope, row: Value) -> Value:
            value = target(scope, row)
            return get(value, index(scope, row)) if type(value) is list else UNDEFINED
        return element

    def call(self, node: Call, nested: bool) -> Evaluator:
        function = FUNCTIONS.get(node.name)
        if function is None:
            raise self.error(node.pos, f"unknown function {node.name}()", "a function of AWS IoT SQL")
        if function.since != V2015:
            self.require_2016(node.pos, f"{node.name}()")
        if node.name in SERVICE_FUNCTION_NAMES and self.resolver is None:
            raise FunctionNotAvailable(node.name)
        if not function.accepts(len(node.args)):
            # "Functions called with invalid arguments (... wrong number of arguments ...) return Undefined"
            log.debug("function called with a wrong number of arguments",
                      extra={"function": node.name, "arguments": len(node.args)})
            return lambda scope, row: UNDEFINED
        args = [self.argument(node.name, arg, nested) for arg in node.args]
        impl, normalise = function.impl, self.normalise

        def invoke(scope: Scope, row: Value) -> Value:
            result = impl(scope, [arg(scope, row) for arg in args])
            return normalise(result) if type(result) is Decimal else result
        return invoke

    def argument(self, function: str, node: Expr, nested: bool) -> Evaluator:
        if function == "encode" and isinstance(node, Star) and not nested:
            # encode(*, 'base64') encodes the payload's bytes as they arrived, JSON or not.
            return lambda scope, row: scope.raw_payload()
        return self.expr(node, nested=nested)

    def cast(self, node: Cast, nested: bool) -> Evaluator:
        if node.type_name in V2016_ONLY:
            self.require_2016(node.pos, f"cast to {node.type_name}")
        operand = self.expr(node.operand, nested=nested)
        convert, normalise = CASTS[node.type_name], self.normalise

        def cast(scope: Scope, row: Value) -> Value:
            result = convert(operand(scope, row))
            return normalise(result) if type(result) is Decimal else result
        return cast

    def unary_op(self, node: Unary, nested: bool) -> Evaluator:
        op = self.unary[node.op]
        if node.op == "-" and isinstance(node.operand, Literal):
            value = node.operand.value
            constant = op(self.normalise(value) if isinstance(value, Decimal) else value)
            return lambda scope, row: constant
        operand = self.expr(node.operand, nested=nested)
        return lambda scope, row: op(operand(scope, row))

    def binary_op(self, node: Binary, nested: bool) -> Evaluator:
        op = self.binary[node.op]
        left, right = self.expr(node.left, nested=nested), self.expr(node.right, nested=nested)
        return lambda scope, row: op(left(scope, row), right(scope, row))

    def case(self, node: Case, nested: bool) -> Evaluator:
        subject = None if node.subject is None else self.expr(node.subject, nested=nested)
        whens = [(self.expr(t, nested=nested), self.expr(r, nested=nested)) for t, r in node.whens]
        default = None if node.default is None else self.expr(node.default, nested=nested)

        def case(scope: Scope, row: Value) -> Value:
            if subject is not None:
                value = subject(scope, row)
                if value is UNDEFINED:
                    return UNDEFINED
                for test, result in whens:
                    candidate = test(scope, row)
                    if candidate is not UNDEFINED and same_value(value, candidate):
                        return result(scope, row)
            else:
                for test, result in whens:
                    if to_boolean(test(scope, row)) is True:
                        return result(scope, row)
            return UNDEFINED if default is None else default(scope, row)
        return case

    def collection(self, node: ObjectLiteral | ArrayLiteral, nested: bool) -> Evaluator:
        self.require_2016(node.pos, "an object or array literal")
        if isinstance(node, ArrayLiteral):
            items = [self.expr(item, nested=nested) for item in node.items]

            def array(scope: Scope, row: Value) -> Value:
                values = [item(scope, row) for item in items]
                return [v for v in values if v is not UNDEFINED]
            return array
        members = [(key, self.expr(value, nested=nested)) for key, value in node.items]

        def obj(scope: Scope, row: Value) -> Value:
            out: dict[str, Value] = {}
            for key, member in members:
                value = member(scope, row)
                if value is not UNDEFINED:
                    out[key] = value
            return out
        return obj

    def subquery(self, node: Subquery) -> Evaluator:
        """``(SELECT ... FROM source WHERE ...)``: over an Array, one result per matching element;
        over an Object, the single result for it."""
        self.require_2016(node.pos, "a nested query")
        query = node.query
        if isinstance(query.source, str) or query.source is None:  # the parser never makes these
            raise self.error(node.pos, "a nested query needs FROM over an expression")
        source = self.expr(query.source, nested=True)
        where = None if query.where is None else self.expr(query.where, nested=True)
        project = self.projection(query.items, query.value, nested=True)

        def run(scope: Scope, row: Value) -> Value:
            if where is not None and to_boolean(where(scope, row)) is not True:
                return UNDEFINED
            return project(scope, row)

        def nested_query(scope: Scope, row: Value) -> Value:
            rows = source(scope, row)
            if type(rows) is dict:
                return run(scope, rows)
            if type(rows) is not list:
                return UNDEFINED
            results = [run(scope, element) for element in rows]
            return [r for r in results if r is not UNDEFINED]
        return nested_query

    # -- SELECT --------------------------------------------------------------------------------------------
    def projection(self, items: Sequence[SelectItem], value: bool, *, nested: bool) -> Evaluator:
        """The SELECT list: one value (SELECT VALUE, or ``*`` alone) or an object built item by item."""
        if value or (len(items) == 1 and isinstance(items[0], Star)):
            only = items[0]
            return self.expr(only.expr if isinstance(only, Projection) else only, nested=nested)
        # (key, dotted key or None, evaluator); key None is ``*``
        parts: list[tuple[str | None, tuple[str, ...] | None, Evaluator]] = []
        for position, item in enumerate(items, start=1):
            if isinstance(item, Star):
                parts.append((None, None, lambda scope, row: row))
            else:
                key = _output_key(item, position)
                parts.append((key[0], key if len(key) > 1 else None, self.expr(item.expr, nested=nested)))

        def project(scope: Scope, row: Value) -> Value:
            out: dict[str, Value] = {}
            for key, dotted, evaluate in parts:
                result = evaluate(scope, row)
                if key is None:
                    if type(result) is dict:
                        out.update(result)
                elif result is not UNDEFINED:
                    if dotted is None:
                        out[key] = result
                    else:
                        _put(out, dotted, result)
            return out
        return project

    def top_level(self, query: Query) -> tuple[Evaluator | None, Evaluator]:
        """(WHERE, SELECT) evaluators of the rule's query."""
        where = None if query.where is None else self.expr(query.where)
        return where, self.projection(query.items, query.value, nested=False)


def _field_path(node: Expr) -> tuple[str, ...] | None:
    """``a.b.c`` as ("a", "b", "c"): read with one tight loop instead of nested closures."""
    names: list[str] = []
    while isinstance(node, Member):
        names.append(node.name)
        node = node.target
    if not isinstance(node, Field):
        return None
    names.append(node.name)
    return tuple(reversed(names))


def _path_reader(path: tuple[str, ...]) -> Evaluator:
    if len(path) == 1:
        name = path[0]
        return lambda scope, row: row.get(name, UNDEFINED) if type(row) is dict else UNDEFINED
    if len(path) == 2:
        outer, inner = path

        def read_member(scope: Scope, row: Value) -> Value:
            value = row.get(outer) if type(row) is dict else None
            return value.get(inner, UNDEFINED) if type(value) is dict else UNDEFINED
        return read_member

    def read(scope: Scope, row: Value) -> Value:
        value = row
        for name in path:
            if type(value) is not dict:
                return UNDEFINED
            value = value.get(name, UNDEFINED)
        return value
    return read


def _output_key(item: Projection, position: int) -> tuple[str, ...]:
    """The output key of a SELECT item: its alias (dotted: nested), the last name of a path, the
    @variable's or the function's name (``timestamp()`` gives "timestamp"), else ``_<position>``.

    AWS documents only aliases and paths; function names follow what AWS is observed to produce.
    """
    if item.alias is not None:
        return tuple(item.alias.split("."))
    node = item.expr
    if isinstance(node, Member | Field | Variable | Call):
        return (node.name,)
    return (f"_{position}",)


def _put(out: dict[str, Value], key: tuple[str, ...], value: Value) -> None:
    if len(key) == 1:
        out[key[0]] = value
        return
    head = key[0]
    inner = out.get(head)
    copy: dict[str, Value] = dict(inner) if type(inner) is dict else {}  # never mutate the payload
    _put(copy, key[1:], value)
    out[head] = copy
