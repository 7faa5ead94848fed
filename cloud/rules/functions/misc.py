"""Message metadata (topic, clientid, timestamp, ...), collection access and Null/Undefined tests."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from cloud.rules.context import Scope
from cloud.rules.functions.base import V2016, Function, pure
from cloud.rules.types import UNDEFINED, Value, to_int_floor, to_number


def _topic(scope: Scope, args: Sequence[Value]) -> Value:
    """topic() is the whole topic, topic(n) its n-th level counted from 1."""
    topic = scope.message.topic
    if not args:
        return topic
    index = to_int_floor(args[0])
    levels = topic.split("/")
    if index is None or not 1 <= index <= len(levels):
        return UNDEFINED
    return levels[index - 1]


def _clientid(scope: Scope, args: Sequence[Value]) -> Value:
    # "Returns the ID of the MQTT client sending the message, or n/a if the message wasn't sent over MQTT."
    return scope.message.clientid if scope.message.clientid is not None else "n/a"


def _principal(scope: Scope, args: Sequence[Value]) -> Value:
    return scope.message.principal if scope.message.principal is not None else UNDEFINED


def _traceid(scope: Scope, args: Sequence[Value]) -> Value:
    """A UUID per message, "or Undefined if the message wasn't sent over MQTT" (no client id)."""
    if scope.message.clientid is None:
        return UNDEFINED
    if scope.trace_id is None:
        scope.trace_id = str(uuid.uuid4())
    return scope.trace_id


def _index(value: Value) -> int | None:
    """An index converted to Int (Decimals round to the nearest Int, the standard conversion)."""
    number = to_number(value)
    if number is None:
        return None
    if isinstance(number, Decimal):
        return int(number.to_integral_value(rounding=ROUND_HALF_UP))
    return number


def get(collection: Value, key: Value) -> Value:
    """Element of an Array or character of a String at a 0-based index, or member of an Object."""
    if type(collection) is dict:
        return collection.get(key, UNDEFINED) if type(key) is str else UNDEFINED
    if type(collection) is list or type(collection) is str:
        index = _index(key)
        if index is None or not 0 <= index < len(collection):
            return UNDEFINED
        return collection[index]
    return UNDEFINED


def _get_or_default(value: Value, default: Value) -> Value:
    return default if value is None or value is UNDEFINED else value


def _nanvl(value: Value, fallback: Value) -> Value:
    if value is None or value is UNDEFINED or (type(value) is Decimal and value.is_nan()):
        return fallback
    return value


def _transform(mode: Value, attributes: Value, items: Value) -> Value:
    """transform('enrichArray', object, array): each object of the array with the attributes added."""
    if mode != "enrichArray" or type(attributes) is not dict or type(items) is not list:
        return UNDEFINED
    return [{**item, **attributes} for item in items if type(item) is dict]


FUNCTIONS: tuple[Function, ...] = (
    Function("topic", _topic, 0, 1),
    Function("clientid", _clientid, 0, 0),
    Function("timestamp", lambda scope, args: scope.message.timestamp, 0, 0),
    Function("principal", _principal, 0, 0),
    Function("traceid", _traceid, 0, 0),
    Function("sql_version", lambda scope, args: scope.sql_version, 0, 0),
    Function("newuuid", pure(lambda: str(uuid.uuid4())), 0, 0),
    Function("get", pure(get), 2, 2),
    Function("get_or_default", pure(_get_or_default), 2, 2, V2016),
    Function("isnull", pure(lambda value: value is None), 1, 1),
    Function("isundefined", pure(lambda value: value is UNDEFINED), 1, 1, V2016),
    Function("nanvl", pure(_nanvl), 2, 2),
    Function("transform", pure(_transform), 3, 3, V2016),
)
