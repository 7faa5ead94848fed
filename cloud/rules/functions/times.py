"""parse_time (epoch ms to text, Joda-Time pattern) and time_to_epoch (text to epoch ms, java.time)."""

from __future__ import annotations

from cloud.rules.functions.base import V2016, Function, pure
from cloud.rules.functions.datepatterns import PatternError, java_parse_epoch_ms, joda_format, zone_named
from cloud.rules.types import UNDEFINED, Value, to_int_floor


def _parse_time(pattern: Value, timestamp: Value, zone: Value = "UTC") -> Value:
    epoch_ms = to_int_floor(timestamp)
    if type(pattern) is not str or type(zone) is not str or epoch_ms is None:
        return UNDEFINED
    tz = zone_named(zone)
    if tz is None:
        return UNDEFINED
    try:
        return joda_format(pattern, epoch_ms, tz)
    except (PatternError, OverflowError, ValueError):
        return UNDEFINED


def _time_to_epoch(text: Value, pattern: Value) -> Value:
    if type(text) is not str or type(pattern) is not str:
        return UNDEFINED
    try:
        epoch_ms = java_parse_epoch_ms(text, pattern)
    except (PatternError, OverflowError, ValueError):
        return UNDEFINED
    return UNDEFINED if epoch_ms is None else epoch_ms


FUNCTIONS: tuple[Function, ...] = (
    Function("parse_time", pure(_parse_time), 2, 3, V2016),
    Function("time_to_epoch", pure(_time_to_epoch), 2, 2, V2016),
)
