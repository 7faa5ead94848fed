"""A compiled rule: topic filter, SET variables, WHERE and SELECT, evaluated per message."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeAlias

from cloud.rules.context import FunctionResolver, Message, ProtoDecoder, Scope
from cloud.rules.errors import RulesError
from cloud.rules.evaluate import SQL_VERSIONS, Compiler, Evaluator
from cloud.rules.lexer import syntax_error
from cloud.rules.operators import normaliser
from cloud.rules.parser import parse
from cloud.rules.payload import JsonReader
from cloud.rules.topics import filter_problem, strip_basic_ingest
from cloud.rules.types import UNDEFINED, JsonValue, Value, to_boolean, to_json
from edge_agent.topic_filter import topic_matches

Output: TypeAlias = "JsonValue | bytes"


@lru_cache(maxsize=4)
def json_reader(sql_version: str) -> JsonReader:
    """The payload reader of a SQL version (versions differ in how whole-number Decimals are kept)."""
    return JsonReader(normaliser(sql_version))


def open_scope(topic: str, payload: bytes | str | object, *, clientid: str | None, timestamp: int | None,
               principal: str | None, sql_version: str, resolver: FunctionResolver | None,
               protos: ProtoDecoder | None = None) -> Scope:
    """The evaluation state for one message (payload parsed once, basic-ingest prefix removed)."""
    value, raw = json_reader(sql_version).read_payload(payload)
    stamp = timestamp if timestamp is not None else time.time_ns() // 1_000_000
    message = Message(strip_basic_ingest(topic)[0], clientid, stamp, principal)
    return Scope(message, value, raw, sql_version, resolver, protos=protos)


def to_output(value: Value) -> Output | None:
    """A result as the rule hands it on: JSON-ready Python, raw bytes for a binary ``SELECT *``,
    None for Undefined."""
    if value is UNDEFINED:
        return None
    if type(value) is bytes:
        return value
    return to_json(value)


@dataclass(frozen=True, slots=True)
class RuleResult:
    """What a rule produced for one message: its output and the SET variables (for action templates)."""

    value: Value
    variables: Mapping[str, Value]
    message: Message

    @property
    def output(self) -> Output | None:
        return to_output(self.value)


class Rule:
    """A compiled IoT SQL rule. Build it with :func:`compile_rule`."""

    def __init__(self, sql: str, sql_version: str, resolver: FunctionResolver | None,
                 protos: ProtoDecoder | None = None) -> None:
        statement = parse(sql)
        query = statement.query
        bound: set[str] = set()  # each SET variable is visible from the next assignment on
        compiler = Compiler(sql, sql_version, resolver, variables=bound)
        assignments: list[tuple[str, Evaluator]] = []
        for name, expr in statement.assignments:
            assignments.append((name, compiler.expr(expr)))
            bound.add(name)
        if isinstance(query.source, str):
            problem = filter_problem(query.source)
            if problem is not None:
                raise syntax_error(sql, query.source_pos, f"invalid topic filter {query.source!r}: {problem}")
        self.sql = sql
        self.sql_version = sql_version
        self.statement = statement
        #: The FROM topic filter; "" when FROM is omitted (the rule then runs on basic-ingest topics only).
        self.topic_filter: str = query.source if isinstance(query.source, str) else ""
        self._resolver = resolver
        self._protos = protos
        self._assignments = assignments
        self._where, self._select = compiler.top_level(query)

    def __repr__(self) -> str:
        return f"Rule({self.sql!r}, sql_version={self.sql_version!r})"

    def matches_topic(self, topic: str) -> bool:
        """Whether a message on ``topic`` (with or without the basic-ingest prefix) reaches this rule."""
        bare, basic_ingest = strip_basic_ingest(topic)
        if not self.topic_filter:
            return basic_ingest
        return topic_matches(self.topic_filter, bare)

    def run(self, topic: str, payload: bytes | str | object, *, clientid: str | None = None,
            timestamp: int | None = None, principal: str | None = None) -> RuleResult | None:
        """Evaluate the rule on one message; None when the topic filter or WHERE does not match."""
        fired = self._fire(topic, payload, clientid, timestamp, principal)
        if fired is None:
            return None
        scope, value = fired
        return RuleResult(value, scope.variables, scope.message)

    def evaluate(self, topic: str, payload: bytes | str | object, *, clientid: str | None = None,
                 timestamp: int | None = None, principal: str | None = None) -> Output | None:
        """The rule's output for one message (an object; for SELECT VALUE whatever it selects; raw
        bytes for ``SELECT *`` on a binary payload), or None when the topic filter or WHERE does not
        match (or SELECT VALUE selects Undefined)."""
        fired = self._fire(topic, payload, clientid, timestamp, principal)
        return None if fired is None else to_output(fired[1])

    def _fire(self, topic: str, payload: bytes | str | object, clientid: str | None, timestamp: int | None,
              principal: str | None) -> tuple[Scope, Value] | None:
        if not self.matches_topic(topic):
            return None
        scope = open_scope(topic, payload, clientid=clientid, timestamp=timestamp, principal=principal,
                           sql_version=self.sql_version, resolver=self._resolver, protos=self._protos)
        row = scope.payload
        for name, evaluate in self._assignments:
            scope.variables[name] = evaluate(scope, row)
        if self._where is not None and to_boolean(self._where(scope, row)) is not True:
            return None
        return scope, self._select(scope, row)


def compile_rule(sql: str, *, sql_version: str = "2016-03-23",
                 resolver: FunctionResolver | None = None, protos: ProtoDecoder | None = None) -> Rule:
    """Parse and compile a rule's SQL; raises SqlSyntaxError (with line:column) or FunctionNotAvailable.
    ``protos`` serves ``decode(..., 'proto', ...)`` (without it such a call is Undefined)."""
    if sql_version not in SQL_VERSIONS:
        raise RulesError(f"unknown SQL version {sql_version!r}; expected one of {', '.join(SQL_VERSIONS)}")
    return Rule(sql, sql_version, resolver, protos)
