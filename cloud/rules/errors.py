"""Errors of the IoT SQL engine (cloud must not import edge_agent, so it has its own hierarchy)."""

from __future__ import annotations


class RulesError(Exception):
    """Base of every error the rules engine raises on purpose; its message is one line for a user."""


class SqlSyntaxError(RulesError):
    """The SQL (or a substitution template) does not parse; names the position and what was expected."""

    def __init__(self, message: str, *, line: int, column: int, expected: str | None = None) -> None:
        self.reason = message
        self.line = line
        self.column = column
        self.expected = expected
        detail = f"{message}; expected {expected}" if expected else message
        super().__init__(f"line {line}:{column}: {detail}")


class FunctionNotAvailable(RulesError):
    """The SQL calls an AWS-service function (get_dynamodb, aws_lambda, ...) and no resolver serves it."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"{name}() calls an AWS service and is not available locally; "
                         "pass a FunctionResolver to compile_rule to serve it")
