"""Substitution templates: ``${expression}`` inside action fields, e.g. ``dt/${topic(3)}/${deviceId}``.

Expressions are evaluated against the original payload, so SELECT aliases are not visible; SET
variables are, when the caller passes them.
https://docs.aws.amazon.com/iot/latest/developerguide/iot-substitution-templates.html
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from functools import lru_cache
from typing import cast

from cloud.rules.context import FunctionResolver
from cloud.rules.evaluate import Compiler, Evaluator
from cloud.rules.lexer import syntax_error
from cloud.rules.parser import parse_expression
from cloud.rules.rule import open_scope
from cloud.rules.types import UNDEFINED, Value, dumps


class Template:
    """A compiled substitution template. Build it with :func:`compile_template`."""

    def __init__(self, template: str, sql_version: str, resolver: FunctionResolver | None) -> None:
        self.template = template
        self.sql_version = sql_version
        self._resolver = resolver
        self._parts: list[str | Evaluator] = []
        consumed = 0
        for start, end in _placeholders(template):
            if start > consumed:
                self._parts.append(template[consumed:start])
            # Blank out everything before the expression so that error positions point into the template.
            padded = "".join(c if c == "\n" else " " for c in template[:start + 2]) + template[start + 2:end]
            compiler = Compiler(padded, sql_version, resolver, variables=None)
            self._parts.append(compiler.expr(parse_expression(padded)))
            consumed = end + 1
        if consumed < len(template):
            self._parts.append(template[consumed:])
        self._static = all(isinstance(part, str) for part in self._parts)

    def render(self, payload: bytes | str | object, *, topic: str, clientid: str | None = None,
               timestamp: int | None = None, principal: str | None = None,
               variables: Mapping[str, Value] | None = None) -> str:
        """The template with every ``${...}`` replaced by the text of its value (Undefined: empty)."""
        if self._static:
            return self.template
        scope = open_scope(topic, payload, clientid=clientid, timestamp=timestamp, principal=principal,
                           sql_version=self.sql_version, resolver=self._resolver)
        if variables:
            scope.variables.update(variables)
        out: list[str] = []
        for part in self._parts:
            if isinstance(part, str):
                out.append(part)
            else:
                out.append(_text(part(scope, scope.payload)))
        return "".join(out)


def _text(value: Value) -> str:
    if value is UNDEFINED:
        return ""
    if type(value) is str:
        return value
    return dumps(value)


def _placeholders(template: str) -> list[tuple[int, int]]:
    """(start of "${", index of the closing "}") of each placeholder; braces and quotes inside nest."""
    spans: list[tuple[int, int]] = []
    i = template.find("${")
    while i >= 0:
        depth, j, quote = 0, i + 2, ""
        while j < len(template):
            char = template[j]
            if quote:
                if char == "\\":
                    j += 1
                elif char == quote:
                    quote = ""
            elif char in "'\"":
                quote = char
            elif char == "{":
                depth += 1
            elif char == "}":
                if depth == 0:
                    break
                depth -= 1
            j += 1
        if j >= len(template):
            raise syntax_error(template, i, "unterminated substitution template", "'}'")
        spans.append((i, j))
        i = template.find("${", j + 1)
    return spans


def compile_template(template: str, *, sql_version: str = "2016-03-23",
                     resolver: FunctionResolver | None = None) -> Template:
    """Parse a substitution template once (cached); raises SqlSyntaxError for a bad expression."""
    if resolver is not None and not isinstance(resolver, Hashable):
        return Template(template, sql_version, resolver)  # cannot key a cache: compile each time
    return _cached_template(template, sql_version, resolver)


@lru_cache(maxsize=1024)
def _cached_template(template: str, sql_version: str, resolver: Hashable | None) -> Template:
    return Template(template, sql_version, cast("FunctionResolver | None", resolver))


def substitute(template: str, payload: bytes | str | object, *, topic: str, clientid: str | None = None,
               timestamp: int | None = None, principal: str | None = None,
               variables: Mapping[str, Value] | None = None, sql_version: str = "2016-03-23",
               resolver: FunctionResolver | None = None) -> str:
    """Evaluate the ``${...}`` expressions of an action field against the original message.

    ``variables`` are the rule's SET variables (``RuleResult.variables``); ``resolver`` serves
    AWS-service functions such as ``get_secret``.
    """
    return compile_template(template, sql_version=sql_version, resolver=resolver).render(
        payload, topic=topic, clientid=clientid, timestamp=timestamp, principal=principal,
        variables=variables)
