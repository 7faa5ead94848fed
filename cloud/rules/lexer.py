"""Tokens of AWS IoT SQL: keywords, identifiers, @variables, numbers, quoted strings and operators."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Final

from cloud.rules.errors import SqlSyntaxError


class Kind(Enum):
    """What a token is."""

    KEYWORD = "keyword"
    IDENT = "identifier"
    VARIABLE = "variable"
    INT = "integer"
    DECIMAL = "number"
    STRING = "string"
    OP = "operator"
    EOF = "end of input"


KEYWORDS: Final = frozenset({
    "SELECT", "VALUE", "FROM", "WHERE", "AS", "AND", "OR", "NOT", "IN", "CASE", "WHEN", "THEN",
    "ELSE", "END", "TRUE", "FALSE", "NULL", "SET",
})

# Longest first, so that "<>" wins over "<".
_OPERATORS: Final = ("<>", "<=", ">=", "(", ")", "[", "]", "{", "}", ",", ".", "*", "/", "%", "+", "-",
                     "=", "<", ">", ":")
_ESCAPES: Final = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "/": "/", "\\": "\\",
                   "'": "'", '"': '"'}


@dataclass(frozen=True, slots=True)
class Token:
    """One token: ``text`` is the keyword in upper case, the name, the operator or the decoded literal."""

    kind: Kind
    text: str
    pos: int

    def is_op(self, op: str) -> bool:
        return self.kind is Kind.OP and self.text == op

    def is_keyword(self, word: str) -> bool:
        return self.kind is Kind.KEYWORD and self.text == word

    def describe(self) -> str:
        if self.kind is Kind.EOF:
            return "end of input"
        if self.kind is Kind.STRING:
            return f"string '{self.text}'"
        return f"'{self.text}'"

    def number(self) -> int | Decimal:
        return int(self.text) if self.kind is Kind.INT else Decimal(self.text)


def position(source: str, pos: int) -> tuple[int, int]:
    """1-based line and column of an offset."""
    line = source.count("\n", 0, pos) + 1
    column = pos - (source.rfind("\n", 0, pos) + 1) + 1
    return line, column


def syntax_error(source: str, pos: int, message: str, expected: str | None = None) -> SqlSyntaxError:
    line, column = position(source, pos)
    return SqlSyntaxError(message, line=line, column=column, expected=expected)


def tokenize(source: str) -> list[Token]:
    """All tokens of ``source``, ending with an EOF token."""
    tokens: list[Token] = []
    i, n = 0, len(source)
    while True:
        while i < n and source[i].isspace():
            i += 1
        if i >= n:
            tokens.append(Token(Kind.EOF, "", n))
            return tokens
        char = source[i]
        if char.isalpha() or char == "_":
            end = _word_end(source, i)
            word = source[i:end]
            upper = word.upper()
            kind = Kind.KEYWORD if upper in KEYWORDS else Kind.IDENT
            tokens.append(Token(kind, upper if kind is Kind.KEYWORD else word, i))
            i = end
        elif char == "@":
            end = _word_end(source, i + 1)
            if end == i + 1:
                raise syntax_error(source, i, "a variable needs a name after '@'", "a name")
            tokens.append(Token(Kind.VARIABLE, source[i + 1:end], i))
            i = end
        elif char.isdigit():
            i = _number(source, i, tokens)
        elif char in "'\"":
            i = _string(source, i, tokens)
        else:
            op = next((o for o in _OPERATORS if source.startswith(o, i)), None)
            if op is None:
                raise syntax_error(source, i, f"unexpected character {char!r}")
            tokens.append(Token(Kind.OP, op, i))
            i += len(op)


def _word_end(source: str, i: int) -> int:
    n = len(source)
    while i < n and (source[i].isalnum() or source[i] == "_"):
        i += 1
    return i


def _digits_end(source: str, i: int) -> int:
    n = len(source)
    while i < n and source[i].isdigit():
        i += 1
    return i


def _number(source: str, start: int, tokens: list[Token]) -> int:
    i = _digits_end(source, start)
    kind = Kind.INT
    n = len(source)
    if i + 1 < n and source[i] == "." and source[i + 1].isdigit():
        i = _digits_end(source, i + 1)
        kind = Kind.DECIMAL
    if i < n and source[i] in "eE":
        j = i + 1
        if j < n and source[j] in "+-":
            j += 1
        if j < n and source[j].isdigit():
            i = _digits_end(source, j)
            kind = Kind.DECIMAL
    if i < n and (source[i].isalpha() or source[i] == "_"):
        raise syntax_error(source, start, f"malformed number {source[start:_word_end(source, i)]!r}")
    tokens.append(Token(kind, source[start:i], start))
    return i


def _string(source: str, start: int, tokens: list[Token]) -> int:
    quote = source[start]
    chars: list[str] = []
    i, n = start + 1, len(source)
    while i < n:
        char = source[i]
        if char == quote:
            if i + 1 < n and source[i + 1] == quote:  # SQL style: '' inside '...'
                chars.append(quote)
                i += 2
                continue
            tokens.append(Token(Kind.STRING, "".join(chars), start))
            return i + 1
        if char == "\\" and i + 1 < n:
            escaped = source[i + 1]
            if escaped == "u" and i + 6 <= n:
                try:
                    chars.append(chr(int(source[i + 2:i + 6], 16)))
                except ValueError:
                    raise syntax_error(source, i, "malformed \\u escape", "four hex digits") from None
                i += 6
                continue
            chars.append(_ESCAPES.get(escaped, "\\" + escaped))
            i += 2
            continue
        chars.append(char)
        i += 1
    raise syntax_error(source, start, "unterminated string", f"a closing {quote}")
