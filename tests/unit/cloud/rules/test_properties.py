"""Property-based tests of the IoT SQL engine."""

from __future__ import annotations

import json
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from cloud.rules import compile_rule
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
    Star,
    Statement,
    Subquery,
    Unary,
    Variable,
)
from cloud.rules.operators import binary_operators, normaliser
from cloud.rules.parser import CAST_TYPES, parse, parse_expression
from cloud.rules.printer import to_sql
from cloud.rules.types import UNDEFINED, Value, same_value

OPS = binary_operators(normaliser("2016-03-23"))
ints = st.integers(min_value=-(10**12), max_value=10**12)
decimals = st.decimals(min_value=-(10**6), max_value=10**6, places=3, allow_nan=False, allow_infinity=False)
scalars: st.SearchStrategy[Value] = st.one_of(
    ints, decimals, st.booleans(), st.text(max_size=5), st.none(),
    st.sampled_from(["12", "-3.5", "1e2", "true"]))
values: st.SearchStrategy[Value] = st.recursive(
    scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                     st.dictionaries(st.text(max_size=3), inner, max_size=3)), max_leaves=6)


def evaluate(sql_expression: str, payload: dict[str, object]) -> Value:
    result = compile_rule(f"SELECT VALUE {sql_expression} FROM '#'").run("t", json.dumps(payload).encode())
    assert result is not None
    return result.value


@given(ints, ints)
def test_int_arithmetic_matches_java_long_semantics(a: int, b: int) -> None:
    assert OPS["+"](a, b) == a + b
    assert OPS["-"](a, b) == a - b
    assert OPS["*"](a, b) == a * b
    if b == 0:
        assert OPS["/"](a, b) is UNDEFINED
        assert OPS["%"](a, b) is UNDEFINED
    else:
        quotient, remainder = OPS["/"](a, b), OPS["%"](a, b)
        assert quotient == int(Decimal(a) / Decimal(b))  # truncated toward zero
        assert isinstance(quotient, int)
        assert isinstance(remainder, int)
        assert quotient * b + remainder == a
        assert abs(remainder) < abs(b)
        assert remainder == 0 or (remainder > 0) == (a > 0)


@settings(max_examples=50)
@given(ints, ints)
def test_arithmetic_through_sql_text(a: int, b: int) -> None:
    assert evaluate("x + y * 2 - x", {"x": a, "y": b}) == b * 2


@given(values, values)
def test_comparisons_are_symmetric(a: Value, b: Value) -> None:
    assert OPS["="](a, b) == OPS["="](b, a)
    assert OPS["<>"](a, b) == OPS["<>"](b, a)
    assert OPS["<"](a, b) == OPS[">"](b, a)
    assert OPS["<="](a, b) == OPS[">="](b, a)
    equal = OPS["="](a, b)
    assert OPS["<>"](a, b) == (not equal)
    assert equal == same_value(a, b)


@given(st.sampled_from(sorted(OPS)), values)
def test_undefined_propagates_through_every_operator(op: str, other: Value) -> None:
    assert OPS[op](UNDEFINED, other) is UNDEFINED
    if op != "IN":
        assert OPS[op](other, UNDEFINED) is UNDEFINED


@given(st.sampled_from(["abs", "upper", "lower", "trim", "sqrt", "floor", "md5", "length", "chr", "sign"]))
def test_undefined_arguments_make_functions_undefined(name: str) -> None:
    assert evaluate(f"{name}(missing)", {}) is UNDEFINED


# -- parse(print(tree)) == tree ----------------------------------------------------------------------------
names = st.sampled_from(["a", "b", "temp", "Device_1", "x9"])
literals = st.one_of(
    st.integers(min_value=0, max_value=10**20).map(Literal),
    st.decimals(min_value=0, max_value=10**6, places=4, allow_nan=False, allow_infinity=False).map(Literal),
    st.text(max_size=6).map(Literal),
    st.sampled_from([True, False, None]).map(Literal),
)
leaves: st.SearchStrategy[Expr] = st.one_of(literals, names.map(Field), names.map(Variable))
binary_ops = st.sampled_from(["+", "-", "*", "/", "%", "=", "<>", "<", "<=", ">", ">=", "AND", "OR", "IN"])


def composite(inner: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    query = st.builds(
        lambda items, value, source, where: Query(items[:1] if value else items, value, source, where),
        st.lists(st.one_of(st.just(Star()), st.builds(Projection, inner, st.none() | names)),
                 min_size=1, max_size=3).map(tuple),
        st.booleans(), inner, st.none() | inner)
    return st.one_of(
        st.builds(Binary, binary_ops, inner, inner),
        st.builds(Unary, st.sampled_from(["-", "NOT"]), inner),
        st.builds(Member, inner, names),
        st.builds(Index, inner, inner),
        st.builds(Call, st.sampled_from(["upper", "get", "concat"]),
                  st.lists(st.one_of(inner, st.just(Star())), max_size=3).map(tuple)),
        st.builds(Cast, inner, st.sampled_from(sorted(CAST_TYPES))),
        st.builds(Case, st.none() | inner,
                  st.lists(st.tuples(inner, inner), min_size=1, max_size=2).map(tuple), st.none() | inner),
        st.lists(inner, max_size=3).map(lambda items: ArrayLiteral(tuple(items))),
        st.dictionaries(st.text(max_size=3), inner, max_size=3)
        .map(lambda d: ObjectLiteral(tuple(d.items()))),
        query.map(Subquery),
    )


expressions = st.recursive(leaves, composite, max_leaves=12)


@settings(max_examples=300)
@given(expressions)
def test_expression_round_trips_through_the_printer(expr: Expr) -> None:
    assert parse_expression(to_sql(expr)) == expr


@given(st.lists(st.tuples(names, expressions), max_size=2, unique_by=lambda t: t[0]),
       st.lists(st.builds(Projection, expressions, st.none() | names), min_size=1, max_size=3),
       st.sampled_from(["dt/+/#", "a", "$aws/things/x/shadow"]), st.none() | expressions)
def test_statement_round_trips_through_the_printer(assignments: list[tuple[str, Expr]],
                                                   items: list[Projection], source: str,
                                                   where: Expr | None) -> None:
    statement = Statement(tuple(assignments), Query(tuple(items), False, source, where))
    assert parse(to_sql(statement)) == statement


json_leaves = st.one_of(st.integers(min_value=-(2**53), max_value=2**53), st.text(max_size=4), st.booleans(),
                        st.none(), st.floats(allow_nan=False, allow_infinity=False, width=64))
json_values = st.recursive(
    json_leaves,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=3), inner, max_size=3)),
    max_leaves=8)
json_objects = st.dictionaries(st.text(max_size=4), json_values, max_size=4)


def whole_floats_as_ints(value: object) -> object:
    """What SQL 2016-03-23 makes of a JSON document: whole numbers such as 10.0 are Ints."""
    if isinstance(value, float) and value.is_integer() and Decimal(repr(value)).adjusted() < 34:
        return int(Decimal(repr(value)))  # the number the JSON text denotes (an Int has <= 34 digits)
    if isinstance(value, dict):
        return {k: whole_floats_as_ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [whole_floats_as_ints(v) for v in value]
    return value


@given(json_objects)
def test_select_star_returns_the_payload_whether_bytes_or_pre_parsed(document: dict[str, object]) -> None:
    rule = compile_rule("SELECT * FROM '#'")
    from_bytes = rule.evaluate("t", json.dumps(document).encode())
    pre_parsed = rule.evaluate("t", document)
    expected = whole_floats_as_ints(document)
    assert json.dumps(from_bytes, sort_keys=True) == json.dumps(expected, sort_keys=True)
    assert json.dumps(pre_parsed, sort_keys=True) == json.dumps(expected, sort_keys=True)
    legacy = compile_rule("SELECT * FROM '#'", sql_version="2015-10-08")
    assert json.dumps(legacy.evaluate("t", json.dumps(document).encode()), sort_keys=True) == json.dumps(
        document, sort_keys=True)
