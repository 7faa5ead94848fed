from __future__ import annotations

from decimal import Decimal

import pytest

from cloud.rules.errors import SqlSyntaxError
from cloud.rules.nodes import (
    ArrayLiteral,
    Binary,
    Call,
    Case,
    Cast,
    Field,
    Index,
    Literal,
    Member,
    ObjectLiteral,
    Projection,
    Star,
    Subquery,
    Unary,
    Variable,
)
from cloud.rules.parser import parse, parse_expression


def test_precedence_of_arithmetic_comparison_and_logic() -> None:
    expr = parse_expression("a + b * c > 3 AND NOT d OR e")
    product = Binary("*", Field("b"), Field("c"))
    comparison = Binary(">", Binary("+", Field("a"), product), Literal(3))
    assert expr == Binary("OR", Binary("AND", comparison, Unary("NOT", Field("d"))), Field("e"))


def test_arithmetic_is_left_associative() -> None:
    assert parse_expression("8 - 4 - 2") == Binary("-", Binary("-", Literal(8), Literal(4)), Literal(2))


def test_paths_indexes_and_calls() -> None:
    assert parse_expression("a.b[0].c") == Member(Index(Member(Field("a"), "b"), Literal(0)), "c")
    assert parse_expression("get(x, 0).v") == Member(Call("get", (Field("x"), Literal(0))), "v")
    assert parse_expression("UPPER(x)") == Call("upper", (Field("x"),))


def test_literals() -> None:
    assert parse_expression("{'a': 1, \"b\": [true, null, 2.5]}") == ObjectLiteral(
        (("a", Literal(1)), ("b", ArrayLiteral((Literal(True), Literal(None), Literal(Decimal("2.5")))))))
    assert parse_expression("-5") == Unary("-", Literal(5))


def test_case_simple_and_searched() -> None:
    assert parse_expression("CASE c WHEN 1 THEN 'a' ELSE 'b' END") == Case(
        Field("c"), ((Literal(1), Literal("a")),), Literal("b"))
    assert parse_expression("CASE WHEN t > 1 THEN 'hot' END") == Case(
        None, ((Binary(">", Field("t"), Literal(1)), Literal("hot")),), None)


def test_cast_and_in() -> None:
    assert parse_expression("cast(x AS Integer)") == Cast(Field("x"), "integer")
    assert parse_expression("x IN [1, 2]") == Binary("IN", Field("x"), ArrayLiteral((Literal(1), Literal(2))))


def test_statement_with_set_select_value_from_where() -> None:
    statement = parse("SET @a = x + 1, @b = @a * 2 SELECT VALUE @b FROM 'dt/+/#' WHERE @a > 0")
    assert statement.assignments == (("a", Binary("+", Field("x"), Literal(1))),
                                     ("b", Binary("*", Variable("a"), Literal(2))))
    query = statement.query
    assert query.value
    assert query.items == (Projection(Variable("b")),)
    assert query.source == "dt/+/#"
    assert query.where == Binary(">", Variable("a"), Literal(0))


def test_select_items_star_aliases_and_dotted_alias() -> None:
    query = parse("SELECT *, a AS x, b.c AS y.z FROM 't'").query
    assert query.items == (Star(), Projection(Field("a"), "x"), Projection(Member(Field("b"), "c"), "y.z"))


def test_value_is_a_field_name_when_selected_plainly() -> None:
    assert parse("SELECT value FROM 't'").query.items == (Projection(Field("value")),)
    assert parse("SELECT value AS v, 1 FROM 't'").query.value is False
    assert parse("SELECT VALUE value FROM 't'").query.items == (Projection(Field("value")),)


def test_nested_query_and_star_argument() -> None:
    expr = parse_expression("(SELECT VALUE n FROM e WHERE v > 1)")
    assert isinstance(expr, Subquery)
    assert expr.query.source == Field("e")
    assert parse_expression("encode(*, 'base64')") == Call("encode", (Star(), Literal("base64")))


def test_from_is_optional() -> None:
    assert parse("SELECT a").query.source is None


@pytest.mark.parametrize(("sql", "where", "expected"), [
    ("SELECT FROM 't'", "1:8", "an expression"),
    ("SELECT a FROM t", "1:15", "a quoted topic filter"),
    ("SELECT a b FROM 't'", "1:10", "',', FROM or WHERE"),
    ("SELECT a FROM 't' WHERE", "1:24", "an expression"),
    ("SELECT a FROM 't' WHERE b c", "1:27", "an operator or end of input"),
    ("SELECT (a FROM 't'", "1:11", "')'"),
    ("SELECT f(a b) FROM 't'", "1:12", "',' or ')'"),
    ("SELECT CASE a END FROM 't'", "1:15", "WHEN"),
    ("SELECT cast(a AS Banana) FROM 't'", "1:18", "a cast type"),
    ("SELECT VALUE a, b FROM 't'", "1:15", "SELECT VALUE takes exactly one item"),
    ("SET a = 1 SELECT a", "1:5", "a variable"),
    ("SET @a = 1, @a = 2 SELECT @a", "1:13", None),
    ("SELECT {'a': 1, 'a': 2} FROM 't'", "1:17", None),
    ("WHERE a", "1:1", "SELECT or SET"),
    ("SELECT (SELECT a) FROM 't'", "1:17", "FROM"),
])
def test_syntax_errors_name_position_and_expectation(sql: str, where: str, expected: str | None) -> None:
    with pytest.raises(SqlSyntaxError) as caught:
        parse(sql)
    assert f"{caught.value.line}:{caught.value.column}" == where
    if expected is not None:
        assert expected in (caught.value.expected or "")
