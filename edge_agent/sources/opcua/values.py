"""OPC-UA DataValues -> readings: value conversion, scaling, quality and time."""

from __future__ import annotations

import enum
import time
from datetime import UTC, datetime
from typing import Any

from asyncua import ua

from edge_agent.envelope import Quality, Reading, Value
from edge_agent.sources.opcua.status import quality_of, reading_code
from edge_agent.sources.opcua.targets import NodeTarget


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def to_ms(stamp: datetime) -> int:
    """Milliseconds since the epoch; asyncua's naive datetimes are UTC."""
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return int(stamp.timestamp() * 1000)


def to_value(raw: Any, target: NodeTarget) -> Value | None:
    """A scalar the wire contract carries: numbers scaled (``v * scale + offset``), booleans and
    strings as they are, enumerations as their integer, times as ms, anything else as text."""
    if raw is None or isinstance(raw, bool | str):
        return raw
    if isinstance(raw, enum.Enum):
        raw = raw.value
    if isinstance(raw, int | float):
        if target.scale == 1.0 and target.offset == 0.0:
            return raw
        return raw * target.scale + target.offset
    if isinstance(raw, datetime):
        return to_ms(raw)
    if isinstance(raw, ua.LocalizedText):
        return raw.Text
    return str(raw)


def reading_from(device: str, target: NodeTarget, dv: ua.DataValue, t: int | None = None) -> Reading:
    """The reading of one DataValue, stamped ``t`` or else with the value's source time (then the
    server time, then now)."""
    code = dv.StatusCode.value if dv.StatusCode is not None else 0
    if t is None:
        stamp = dv.SourceTimestamp or dv.ServerTimestamp
        t = to_ms(stamp) if stamp is not None else now_ms()
    raw = dv.Value.Value if dv.Value is not None else None
    quality = quality_of(code)
    return Reading(device=device, point=target.point, t=t,
                   v=None if quality is Quality.BAD else to_value(raw, target),
                   q=quality, code=reading_code(code))


def bad_reading(device: str, target: NodeTarget, code: int, t: int) -> Reading:
    """A point without a value: ``v`` None, quality from ``code`` (a Bad StatusCode)."""
    return Reading(device=device, point=target.point, t=t, v=None, q=quality_of(code), code=code)
