"""Functions that call AWS services or need account context: served by a FunctionResolver, if any."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from cloud.rules.context import Scope
from cloud.rules.functions.base import V2016, Function, Impl
from cloud.rules.operators import normaliser
from cloud.rules.payload import JsonReader
from cloud.rules.types import UNDEFINED, Value, to_json

log = logging.getLogger(__name__)

# name -> (min args, max args, first SQL version)
_SERVICE_FUNCTIONS: dict[str, tuple[int, int | None, str]] = {
    "aws_lambda": (2, 2, "2015-10-08"),
    "get_dynamodb": (4, 6, V2016),
    "get_thing_shadow": (2, 3, V2016),
    "get_secret": (3, 4, "2015-10-08"),
    "get_registry_data": (3, 3, V2016),
    "machinelearning_predict": (3, 3, "2015-10-08"),
    "get_mqtt_property": (1, 1, V2016),
    "get_user_properties": (0, 1, V2016),
    "accountid": (0, 0, "2015-10-08"),
    "sourceip": (0, 0, "2015-10-08"),
}

SERVICE_FUNCTION_NAMES: frozenset[str] = frozenset(_SERVICE_FUNCTIONS)


def _resolved(name: str) -> Impl:
    def impl(scope: Scope, args: Sequence[Value]) -> Value:
        if scope.resolver is None:
            return UNDEFINED
        try:
            result = scope.resolver.call(name, [to_json(arg) for arg in args], scope.message)
        except Exception as exc:  # a failing service call is Undefined, as any failing function
            log.warning("rule function failed", extra={"function": name, "error": repr(exc)})
            return UNDEFINED
        try:
            return JsonReader(normaliser(scope.sql_version)).convert(result)
        except ValueError:
            log.warning("rule function returned a non-JSON value", extra={"function": name})
            return UNDEFINED
    return impl


FUNCTIONS: tuple[Function, ...] = tuple(
    Function(name, _resolved(name), low, high, since)
    for name, (low, high, since) in _SERVICE_FUNCTIONS.items()
)
