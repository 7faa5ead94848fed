from __future__ import annotations

from decimal import Decimal

import pytest

from cloud.rules.errors import SqlSyntaxError
from cloud.rules.lexer import Kind, position, tokenize


def kinds(source: str) -> list[tuple[Kind, str]]:
    return [(t.kind, t.text) for t in tokenize(source)][:-1]


def test_keywords_are_case_insensitive_and_identifiers_keep_case() -> None:
    expected = [(Kind.KEYWORD, "SELECT"), (Kind.IDENT, "Temp"), (Kind.KEYWORD, "FROM")]
    assert kinds("select Temp fRoM") == expected


def test_numbers() -> None:
    tokens = tokenize("12 1.5 2e3 7.25E-2 10.0")
    assert [t.number() for t in tokens[:-1]] == [12, Decimal("1.5"), Decimal("2e3"), Decimal("7.25E-2"),
                                                 Decimal("10.0")]
    assert tokens[0].kind is Kind.INT
    assert tokens[1].kind is Kind.DECIMAL


def test_both_quotes_make_strings_with_escapes() -> None:
    assert kinds("'a\\'b' \"c\\\"d\" 'it''s' '\\u00e9\\n'") == [
        (Kind.STRING, "a'b"), (Kind.STRING, 'c"d'), (Kind.STRING, "it's"), (Kind.STRING, "é\n")]


def test_operators_take_the_longest_match() -> None:
    assert [t for _, t in kinds("a<>b<=c>=d<e")] == ["a", "<>", "b", "<=", "c", ">=", "d", "<", "e"]


def test_variables() -> None:
    assert kinds("@temp_c") == [(Kind.VARIABLE, "temp_c")]


@pytest.mark.parametrize(("source", "line", "column", "text"), [
    ("SELECT 'abc", 1, 8, "unterminated string"),
    ("SELECT a\n  # b", 2, 3, "unexpected character '#'"),
    ("SELECT 12abc", 1, 8, "malformed number"),
    ("SELECT @", 1, 8, "variable needs a name"),
])
def test_errors_name_line_and_column(source: str, line: int, column: int, text: str) -> None:
    with pytest.raises(SqlSyntaxError) as caught:
        tokenize(source)
    assert (caught.value.line, caught.value.column) == (line, column)
    assert text in str(caught.value)
    assert str(caught.value).startswith(f"line {line}:{column}:")


def test_position_counts_lines_from_one() -> None:
    assert position("ab\ncd", 4) == (2, 2)
