"""Recursive-descent parser: IoT SQL text to a :class:`~cloud.rules.nodes.Statement`.

Grammar (https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-reference.html and iot-sql-set)::

    statement  := [SET @v = expr {, @v = expr}] query EOF
    query      := SELECT [VALUE] item {, item} [FROM 'topic/filter'] [WHERE expr]
    item       := '*' | expr [AS alias]
    expr       := or;  or := and {OR and};  and := not {AND not};  not := NOT not | compare
    compare    := sum {(= | <> | < | <= | > | >= | IN) sum}
    sum        := product {(+ | -) product};  product := unary {(* | / | %) unary}
    unary      := - unary | postfix;  postfix := primary {. name | [ expr ]}
    primary    := literal | name | name(args) | cast(expr AS type) | @var | (expr) | (query over expr)
                | {'k': expr, ...} | [expr, ...] | CASE [expr] WHEN expr THEN expr ... [ELSE expr] END
"""

from __future__ import annotations

from typing import Final

from cloud.rules.errors import SqlSyntaxError
from cloud.rules.lexer import Kind, Token, syntax_error, tokenize
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
    Subquery,
    Unary,
    Variable,
)

CAST_TYPES: Final = frozenset({
    "string", "nvarchar", "text", "ntext", "varchar", "int", "integer", "double", "decimal", "bool",
    "boolean",
})
_COMPARISONS: Final = frozenset({"=", "<>", "<", "<=", ">", ">="})
_VARIABLE_NAME_MAX: Final = 64


def parse(source: str) -> Statement:
    """Parse a whole rule; a :class:`SqlSyntaxError` names line:column and what was expected."""
    return _Parser(source).statement()


def parse_expression(source: str) -> Expr:
    """Parse one expression (the inside of a ``${...}`` substitution template)."""
    parser = _Parser(source)
    expr = parser.expression()
    parser.expect_end()
    return expr


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = tokenize(source)
        self.i = 0

    # -- token helpers -------------------------------------------------------------------------------
    @property
    def token(self) -> Token:
        return self.tokens[self.i]

    def peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.tokens[self.i]
        if token.kind is not Kind.EOF:
            self.i += 1
        return token

    def error(self, expected: str, token: Token | None = None) -> SqlSyntaxError:
        token = token or self.token
        return syntax_error(self.source, token.pos, f"unexpected {token.describe()}", expected)

    def accept_op(self, op: str) -> bool:
        if self.token.is_op(op):
            self.i += 1
            return True
        return False

    def accept_keyword(self, word: str) -> bool:
        if self.token.is_keyword(word):
            self.i += 1
            return True
        return False

    def expect_op(self, op: str) -> Token:
        if not self.token.is_op(op):
            raise self.error(f"'{op}'")
        return self.advance()

    def expect_keyword(self, word: str) -> None:
        if not self.accept_keyword(word):
            raise self.error(word)

    def expect_end(self) -> None:
        if self.token.kind is not Kind.EOF:
            raise self.error("end of input")

    def raw(self, token: Token) -> str:
        """A keyword as written (keywords are stored upper-cased)."""
        if token.kind is Kind.KEYWORD:
            return self.source[token.pos:token.pos + len(token.text)]
        return token.text

    def name(self, what: str) -> str:
        token = self.token
        if token.kind not in (Kind.IDENT, Kind.KEYWORD):
            raise self.error(what)
        self.advance()
        return self.raw(token)

    # -- statement and queries -----------------------------------------------------------------------
    def statement(self) -> Statement:
        assignments: list[tuple[str, Expr]] = []
        if self.accept_keyword("SET"):
            while True:
                token = self.token
                if token.kind is not Kind.VARIABLE:
                    raise self.error("a variable such as @name")
                if len(token.text) > _VARIABLE_NAME_MAX:
                    raise syntax_error(self.source, token.pos, "variable name too long",
                                       f"at most {_VARIABLE_NAME_MAX} characters")
                if any(name == token.text for name, _ in assignments):
                    raise syntax_error(self.source, token.pos, f"variable @{token.text} is assigned twice")
                self.advance()
                self.expect_op("=")
                assignments.append((token.text, self.expression()))
                if not self.accept_op(","):
                    break
        if not self.token.is_keyword("SELECT"):
            raise self.error("SELECT" if assignments else "SELECT or SET")
        query = self.query(nested=False)
        if self.token.kind is not Kind.EOF:
            if query.where is not None:
                raise self.error("an operator or end of input")
            raise self.error("WHERE or end of input" if query.source is not None else "',', FROM or WHERE")
        return Statement(tuple(assignments), query)

    def query(self, *, nested: bool) -> Query:
        self.expect_keyword("SELECT")
        value = self.token.is_keyword("VALUE") and not self._value_is_a_field()
        if value:
            self.advance()
        items = [self.select_item()]
        if value and self.token.is_op(","):
            raise self.error("FROM or WHERE (SELECT VALUE takes exactly one item)")
        while self.accept_op(","):
            items.append(self.select_item())
        source: str | Expr | None = None
        source_pos = self.token.pos
        if self.accept_keyword("FROM"):
            source_pos = self.token.pos
            if nested:
                source = self.expression()
            elif self.token.kind is Kind.STRING:
                source = self.advance().text
            else:
                raise self.error("a quoted topic filter such as 'dt/+/telemetry'")
        elif nested:
            raise self.error("FROM")
        where = self.expression() if self.accept_keyword("WHERE") else None
        return Query(tuple(items), value, source, where, source_pos)

    def _value_is_a_field(self) -> bool:
        """``SELECT value FROM ...`` selects a field named value rather than meaning SELECT VALUE."""
        following = self.peek()
        return following.is_keyword("FROM") or following.is_keyword("AS") or following.is_op(",")

    def select_item(self) -> SelectItem:
        token = self.token
        if token.is_op("*"):
            self.advance()
            return Star(token.pos)
        expr = self.expression()
        alias = None
        if self.accept_keyword("AS"):
            parts = [self.name("an alias")]
            while self.accept_op("."):
                parts.append(self.name("an alias"))
            alias = ".".join(parts)
        return Projection(expr, alias)

    # -- expressions -----------------------------------------------------------------------------------
    def expression(self) -> Expr:
        left = self.conjunction()
        while self.token.is_keyword("OR"):
            pos = self.advance().pos
            left = Binary("OR", left, self.conjunction(), pos)
        return left

    def conjunction(self) -> Expr:
        left = self.negation()
        while self.token.is_keyword("AND"):
            pos = self.advance().pos
            left = Binary("AND", left, self.negation(), pos)
        return left

    def negation(self) -> Expr:
        if self.token.is_keyword("NOT"):
            pos = self.advance().pos
            return Unary("NOT", self.negation(), pos)
        return self.comparison()

    def comparison(self) -> Expr:
        left = self.sum()
        while True:
            token = self.token
            if token.kind is Kind.OP and token.text in _COMPARISONS:
                op = token.text
            elif token.is_keyword("IN"):
                op = "IN"
            else:
                return left
            self.advance()
            left = Binary(op, left, self.sum(), token.pos)

    def sum(self) -> Expr:
        left = self.product()
        while self.token.kind is Kind.OP and self.token.text in ("+", "-"):
            token = self.advance()
            left = Binary(token.text, left, self.product(), token.pos)
        return left

    def product(self) -> Expr:
        left = self.unary()
        while self.token.kind is Kind.OP and self.token.text in ("*", "/", "%"):
            token = self.advance()
            left = Binary(token.text, left, self.unary(), token.pos)
        return left

    def unary(self) -> Expr:
        if self.token.is_op("-"):
            pos = self.advance().pos
            return Unary("-", self.unary(), pos)
        return self.postfix(self.primary())

    def postfix(self, expr: Expr) -> Expr:
        while True:
            token = self.token
            if token.is_op("."):
                self.advance()
                expr = Member(expr, self.name("a member name after '.'"), token.pos)
            elif token.is_op("["):
                self.advance()
                index = self.expression()
                self.expect_op("]")
                expr = Index(expr, index, token.pos)
            else:
                return expr

    def primary(self) -> Expr:
        token = self.token
        kind = token.kind
        if kind in (Kind.INT, Kind.DECIMAL):
            self.advance()
            return Literal(token.number(), token.pos)
        if kind is Kind.STRING:
            self.advance()
            return Literal(token.text, token.pos)
        if kind is Kind.VARIABLE:
            self.advance()
            return Variable(token.text, token.pos)
        if kind is Kind.IDENT:
            self.advance()
            if self.token.is_op("("):
                return self.call(token)
            return Field(token.text, token.pos)
        if kind is Kind.KEYWORD:
            return self.keyword_primary(token)
        if token.is_op("("):
            return self.parenthesised()
        if token.is_op("{"):
            return self.object_literal()
        if token.is_op("["):
            return self.array_literal()
        raise self.error("an expression")

    def keyword_primary(self, token: Token) -> Expr:
        constants = {"TRUE": True, "FALSE": False, "NULL": None}
        if token.text in constants:
            self.advance()
            return Literal(constants[token.text], token.pos)
        if token.text == "CASE":
            return self.case()
        if token.text == "VALUE":  # not reserved outside SELECT VALUE: a payload field named "value"
            self.advance()
            return Field(self.raw(token), token.pos)
        raise self.error("an expression")

    def call(self, name: Token) -> Expr:
        self.expect_op("(")
        lowered = name.text.lower()
        if lowered == "cast":
            operand = self.expression()
            self.expect_keyword("AS")
            type_token = self.token
            type_name = self.name("a type name").lower()
            if type_name not in CAST_TYPES:
                raise self.error("a cast type (String, Int, Integer, Double, Decimal, Bool, Boolean, ...)",
                                 type_token)
            self.expect_op(")")
            return Cast(operand, type_name, name.pos)
        args: list[Expr] = []
        if not self.accept_op(")"):
            while True:
                args.append(self.argument())
                if self.accept_op(")"):
                    break
                if not self.token.is_op(","):
                    raise self.error("',' or ')'")
                self.advance()
        return Call(lowered, tuple(args), name.pos)

    def argument(self) -> Expr:
        token = self.token
        if token.is_op("*") and (self.peek().is_op(",") or self.peek().is_op(")")):
            self.advance()
            return Star(token.pos)
        return self.expression()

    def parenthesised(self) -> Expr:
        start = self.advance()
        if self.token.is_keyword("SELECT"):
            query = self.query(nested=True)
            self.expect_op(")")
            return Subquery(query, start.pos)
        expr = self.expression()
        self.expect_op(")")
        return expr

    def object_literal(self) -> Expr:
        start = self.advance()
        items: list[tuple[str, Expr]] = []
        if not self.accept_op("}"):
            while True:
                key_token = self.token
                if key_token.kind is Kind.STRING:
                    key = self.advance().text
                else:
                    key = self.name("an object key (a quoted string)")
                if any(existing == key for existing, _ in items):
                    raise syntax_error(self.source, key_token.pos, f"duplicate key {key!r} in object literal")
                self.expect_op(":")
                items.append((key, self.expression()))
                if self.accept_op("}"):
                    break
                if not self.token.is_op(","):
                    raise self.error("',' or '}'")
                self.advance()
        return ObjectLiteral(tuple(items), start.pos)

    def array_literal(self) -> Expr:
        start = self.advance()
        items: list[Expr] = []
        if not self.accept_op("]"):
            while True:
                items.append(self.expression())
                if self.accept_op("]"):
                    break
                if not self.token.is_op(","):
                    raise self.error("',' or ']'")
                self.advance()
        return ArrayLiteral(tuple(items), start.pos)

    def case(self) -> Expr:
        start = self.advance()
        subject = None if self.token.is_keyword("WHEN") else self.expression()
        whens: list[tuple[Expr, Expr]] = []
        while self.accept_keyword("WHEN"):
            test = self.expression()
            self.expect_keyword("THEN")
            whens.append((test, self.expression()))
        if not whens:
            raise self.error("WHEN (CASE needs at least one WHEN clause)")
        default = self.expression() if self.accept_keyword("ELSE") else None
        self.expect_keyword("END")
        return Case(subject, tuple(whens), default, start.pos)
