"""The wire contract shared by the edge and the cloud: readings, windows, batches, topics.

This module is the only piece of ``edge_agent`` that ``cloud`` may import. It has no
dependencies beyond the standard library.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from numbers import Number
from typing import Any, Final, NamedTuple

SCHEMA: Final = "edgeferry.batch/1"
SCHEMA_COMPACT: Final = "edgeferry.batch/2"
"""The compact form: ``points`` holds each point's readings as columns, times delta-encoded
(the first against ``start``, each next against the one before), so a point's name is written
once per batch instead of once per reading. Everything else is as in ``edgeferry.batch/1``::

    "points": {"temp": {"t": [0, 30000, 30000], "v": [4.1, 4.2, 4.2]},
               "door": {"t": [12, 30000, 30000], "v": [false, true, true], "q": [0, 2, 0]}}

``q`` is left out when every reading of the point is good, ``code`` when none has one.
"""
MAX_PAYLOAD_BYTES: Final = 128 * 1024
"""AWS IoT Core rejects a PUBLISH whose payload is larger than 128 KB (limits-iot.md)."""
METERING_UNIT_BYTES: Final = 5 * 1024
"""IoT Core meters messages in 5 KB increments of payload (pricing / limits-iot.md)."""

Value = float | int | bool | str


class Quality(IntEnum):
    """Reading quality: good, uncertain or bad (the source's own status code travels in ``code``)."""

    GOOD = 0
    UNCERTAIN = 1
    BAD = 2


class Reading(NamedTuple):
    """One sample of one point: device, point, time (ms since epoch, UTC), value, quality.

    A named tuple rather than a frozen dataclass: sources create one per point per poll, and a
    tuple is built about four times faster (measured: 0.55 vs 2.4 µs), which is a large share of
    the cost of polling a coalesced Modbus read.
    """

    device: str
    point: str
    t: int
    v: Value | None
    q: Quality = Quality.GOOD
    code: int | None = None
    """The source's status: Modbus exception code, OPC-UA StatusCode value, or an edgeferry code."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"point": self.point, "t": self.t, "v": self.v, "q": int(self.q)}
        if self.code is not None:
            out["code"] = self.code
        return out


@dataclass(frozen=True, slots=True)
class Window:
    """Aggregate of one point over a tumbling window ``[t, t + w)`` (ms)."""

    point: str
    t: int
    w: int
    n: int
    min: float
    max: float
    avg: float
    first: Value
    last: Value
    q: Quality = Quality.GOOD

    def to_json(self) -> dict[str, Any]:
        return {
            "point": self.point, "t": self.t, "w": self.w, "n": self.n,
            "min": self.min, "max": self.max, "avg": self.avg,
            "first": self.first, "last": self.last, "q": int(self.q),
        }


class BatchKind(IntEnum):
    """Telemetry batches leave in seq order; alarm batches jump the queue."""

    TELEMETRY = 0
    ALARM = 1


@dataclass(frozen=True, slots=True)
class Batch:
    """The wire envelope (``edgeferry.batch/1``); (device, epoch, seq) identifies it."""

    device: str
    site: str
    asset_type: str
    epoch: str
    seq: int
    start: int
    end: int
    readings: Sequence[Reading] = ()
    windows: Sequence[Window] = ()
    last: Mapping[str, Value | None] = field(default_factory=dict)
    kind: BatchKind = BatchKind.TELEMETRY
    alarms: Sequence[Mapping[str, Any]] = ()
    """For alarm batches: the conditions that fired (``name``, ``point``, ``message``...)."""
    dropped: int = 0
    """Batches of this epoch the device will never send, counted when this one was made: dropped
    by its spool (full, expired, refused by a full disk, lost with its log) or refused by the
    cloud. Cumulative, so any later batch explains every earlier gap; absent when 0."""
    compact: bool = False
    """Encode as :data:`SCHEMA_COMPACT` (readings as per-point columns)."""

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.device, self.epoch, self.seq)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schema": SCHEMA_COMPACT if self.compact else SCHEMA,
            "device": self.device,
            "site": self.site,
            "asset_type": self.asset_type,
            "epoch": self.epoch,
            "seq": self.seq,
            "start": self.start,
            "end": self.end,
        }
        if self.readings and self.compact:
            out["points"] = _columns(self.readings, self.start)
        elif self.readings:
            out["readings"] = [r.to_json() for r in self.readings]
        if self.windows:
            out["windows"] = [w.to_json() for w in self.windows]
        out["last"] = dict(self.last)
        if self.kind is BatchKind.ALARM:
            out["alarms"] = [dict(a) for a in self.alarms]
        if self.dropped:
            out["dropped"] = self.dropped
        return out

    def encode(self) -> bytes:
        """Compact JSON bytes: the MQTT payload."""
        return encode_json(self.to_json())


def _columns(readings: Sequence[Reading], start: int) -> dict[str, dict[str, list[Any]]]:
    columns: dict[str, dict[str, list[Any]]] = {}
    previous: dict[str, int] = {}
    for r in readings:
        column = columns.get(r.point)
        if column is None:
            column = columns[r.point] = {"t": [], "v": [], "q": [], "code": []}
        column["t"].append(r.t - previous.get(r.point, start))
        previous[r.point] = r.t
        column["v"].append(r.v)
        column["q"].append(int(r.q))
        column["code"].append(r.code)
    for column in columns.values():
        if not any(column["q"]):
            del column["q"]
        if all(code is None for code in column["code"]):
            del column["code"]
    return columns


def encode_json(obj: Any) -> bytes:
    """Compact UTF-8 JSON; NaN and infinities become null (JSON has neither)."""
    try:
        text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError:  # a NaN or an infinity somewhere: the rare, slower path replaces them
        text = json.dumps(_finite(obj), separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode()


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


class EnvelopeError(ValueError):
    """A payload that is not a valid ``edgeferry.batch/1`` or ``/2`` envelope; the message names the field."""


class NotAnEnvelope(EnvelopeError):
    """The payload does not claim to be an ``edgeferry.batch/1`` envelope at all (not JSON, no
    such ``schema``): a consumer of any message passes it on, where an invalid envelope is refused."""


INT64_MAX: Final = 2**63 - 1
"""Integer fields (seq, times, counts) must fit a signed 64-bit column (Parquet, SQL stores)."""
VALUE_INT_MIN: Final = -(2**63)
VALUE_INT_MAX: Final = 2**64 - 1
"""A value may be any 64-bit integer, signed or not (a Modbus ``uint64`` reaches 2**64 - 1)."""
NAME_MAX: Final = 128
"""Device (thing) names, like MQTT client ids, are at most 128 bytes (limits-iot.md)."""


def decode_batch(payload: bytes | str | Mapping[str, Any]) -> Batch:
    """Parse and validate a wire payload into a :class:`Batch`; raises :class:`EnvelopeError`
    naming the first field that is missing, of the wrong type or out of range.

    Both sides trust what this accepts: integers are integers (not floats, not booleans) within 64
    bits (``seq`` and ``dropped`` not negative), names are non-empty strings, values are JSON scalars, and a byte payload is at most
    :data:`MAX_PAYLOAD_BYTES`. Fields it does not know are ignored (the contract grows additively).
    """
    if isinstance(payload, bytes | str):
        size = len(payload.encode() if isinstance(payload, str) else payload)
        if size > MAX_PAYLOAD_BYTES:
            raise EnvelopeError(f"payload of {size} bytes is over the {MAX_PAYLOAD_BYTES}-byte limit")
        try:
            obj = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise NotAnEnvelope(f"not JSON: {exc}") from None
    else:
        obj = payload
    if not isinstance(obj, Mapping) or obj.get("schema") not in (SCHEMA, SCHEMA_COMPACT):
        raise NotAnEnvelope(f"not an {SCHEMA} or {SCHEMA_COMPACT} envelope")
    compact = obj["schema"] == SCHEMA_COMPACT
    device = _name(obj, "device", NAME_MAX)
    alarms = tuple(_mapping(a, f"alarms[{i}]") for i, a in enumerate(_list(obj, "alarms")))
    return Batch(
        device=device, site=_name(obj, "site"), asset_type=_name(obj, "asset_type"),
        epoch=_name(obj, "epoch"), seq=_integer(obj, "seq", 0), start=_integer(obj, "start"),
        end=_integer(obj, "end"),
        readings=_from_columns(device, obj) if compact else
        tuple(_reading(device, r, f"readings[{i}]") for i, r in enumerate(_list(obj, "readings"))),
        windows=tuple(_window(w, f"windows[{i}]") for i, w in enumerate(_list(obj, "windows"))),
        last={str(k): _value(v, f"last.{k}") for k, v in _mapping(obj.get("last", {}), "last").items()},
        kind=BatchKind.ALARM if alarms else BatchKind.TELEMETRY, alarms=alarms,
        dropped=_integer(obj, "dropped", 0, default=0), compact=compact,
    )


def _from_columns(device: str, obj: Mapping[str, Any]) -> tuple[Reading, ...]:
    """The readings of a compact envelope's ``points``, each checked as a full-form reading is."""
    out = []
    start = _integer(obj, "start")
    for point, raw in _mapping(obj.get("points", {}), "points").items():
        where = f"points.{point}"
        column = _mapping(raw, where)
        times, values = _list(column, "t"), _list(column, "v")
        qualities, codes = _list(column, "q") or [0] * len(times), _list(column, "code") or [None] * len(times)
        if not len(times) == len(values) == len(qualities) == len(codes):
            raise EnvelopeError(f"{where}: its t, v, q and code columns differ in length")
        t = start
        for i, (dt, v, q, code) in enumerate(zip(times, values, qualities, codes, strict=True)):
            if type(dt) is not int:
                raise EnvelopeError(f"{where}.t[{i}]: an integer is required, not {dt!r}"[:160])
            t += dt
            out.append(_reading(device, {"point": point, "t": t, "v": v, "q": q, "code": code}, f"{where}[{i}]"))
    return tuple(out)


def _reading(device: str, raw: object, where: str) -> Reading:
    r = _mapping(raw, where)
    code = r.get("code")
    return Reading(device=device, point=_name(r, "point", 1024, where=where), t=_integer(r, "t", where=where),
                   v=_value(r.get("v"), f"{where}.v"), q=_quality(r, where),
                   code=None if code is None else _integer(r, "code", -INT64_MAX - 1, where=where))


def _window(raw: object, where: str) -> Window:
    w = _mapping(raw, where)
    return Window(point=_name(w, "point", 1024, where=where), t=_integer(w, "t", where=where),
                  w=_integer(w, "w", 0, where=where), n=_integer(w, "n", 0, where=where),
                  min=_value(w.get("min"), f"{where}.min"), max=_value(w.get("max"), f"{where}.max"),  # type: ignore[arg-type]
                  avg=_value(w.get("avg"), f"{where}.avg"),  # type: ignore[arg-type]
                  first=_value(w.get("first"), f"{where}.first"),  # type: ignore[arg-type]
                  last=_value(w.get("last"), f"{where}.last"), q=_quality(w, where))  # type: ignore[arg-type]


def _field(obj: Mapping[str, Any], key: str, where: str | None) -> str:
    return f"{where}.{key}" if where else key


def _integer(obj: Mapping[str, Any], key: str, low: int = -INT64_MAX - 1, *, default: int | None = None,
             where: str | None = None) -> int:
    value = obj.get(key, default)
    if type(value) is not int or not low <= value <= INT64_MAX:
        shown = "missing" if key not in obj else f"{value!r}"[:40]
        raise EnvelopeError(f"{_field(obj, key, where)}: an integer from {low} to 2**63-1 is required, "
                            f"not {shown}")
    return value


def _name(obj: Mapping[str, Any], key: str, limit: int = 256, *, where: str | None = None) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        shown = "missing" if key not in obj else f"{value!r}"[:40]
        raise EnvelopeError(f"{_field(obj, key, where)}: a string of 1 to {limit} characters is required, "
                            f"not {shown}")
    return value


def _quality(obj: Mapping[str, Any], where: str) -> Quality:
    q = obj.get("q", 0)
    if type(q) is not int or q not in (0, 1, 2):
        raise EnvelopeError(f"{where}.q: 0, 1 or 2 is required, not {q!r}"[:120])
    return Quality(q)


def _value(value: object, where: str) -> Value | None:
    """A JSON scalar: string, boolean, null, a finite number, an integer within 64 bits."""
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int):
        if VALUE_INT_MIN <= value <= VALUE_INT_MAX:
            return value
    elif isinstance(value, float) and math.isfinite(value):
        return value
    elif isinstance(value, Number) and not isinstance(value, complex):  # Decimal, from the rules engine
        try:
            if math.isfinite(float(value)):  # type: ignore[arg-type]
                return value  # type: ignore[return-value]
        except (OverflowError, ValueError):
            pass
    raise EnvelopeError(f"{where}: a string, boolean, null or number within 64 bits is required, "
                        f"not {value!r}"[:160])


def _list(obj: Mapping[str, Any], key: str) -> Sequence[Any]:
    value = obj.get(key, ())
    if not isinstance(value, list | tuple):
        raise EnvelopeError(f"{key}: a list is required, not {type(value).__name__}")
    return value


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise EnvelopeError(f"{where}: an object is required, not {type(value).__name__}")
    return value


def metering_units(payload_bytes: int) -> int:
    """How many 5 KB metering units a payload of this size costs (at least one)."""
    return max(1, -(-payload_bytes // METERING_UNIT_BYTES))


@dataclass(frozen=True, slots=True)
class TopicScheme:
    """Topic names of DESIGN.md: ``dt/<site>/<assetType>/<deviceId>/telemetry|alarm``.

    With ``rule`` set, telemetry goes through basic ingest, ``$aws/rules/<rule>/dt/...``
    (iot-basic-ingest.md): no messaging charge, and nobody can subscribe to it.
    """

    site: str
    asset_type: str
    device: str
    rule: str | None = None
    alarm_rule: str | None = None

    def _base(self) -> str:
        return f"dt/{self.site}/{self.asset_type}/{self.device}"

    @property
    def telemetry(self) -> str:
        return self._prefixed(f"{self._base()}/telemetry", self.rule)

    @property
    def alarm(self) -> str:
        return self._prefixed(f"{self._base()}/alarm", self.alarm_rule or self.rule)

    @property
    def commands(self) -> str:
        return f"cmd/{self.device}/#"

    def for_batch(self, batch: Batch) -> str:
        return self.alarm if batch.kind is BatchKind.ALARM else self.telemetry

    @staticmethod
    def _prefixed(topic: str, rule: str | None) -> str:
        return f"$aws/rules/{rule}/{topic}" if rule else topic


BASIC_INGEST_PREFIX: Final = "$aws/rules/"


def strip_basic_ingest(topic: str) -> tuple[str | None, str]:
    """Split ``$aws/rules/<rule>/<topic>`` into (rule, topic); (None, topic) otherwise."""
    if topic.startswith(BASIC_INGEST_PREFIX):
        rest = topic[len(BASIC_INGEST_PREFIX):]
        rule, sep, inner = rest.partition("/")
        if sep and rule:
            return rule, inner
    return None, topic
