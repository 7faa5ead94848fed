"""What a sink stores from one rule output: its idempotency key and the rows it explodes into.

A batch envelope (``edgeferry.batch/1``) is keyed by (device, epoch, seq) and explodes into one
row per reading and one per window. Any other JSON object is keyed by a hash of its bytes and
explodes into one row per scalar field; other values (arrays, numbers, binary passthrough) carry a
key but no rows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from edge_agent.envelope import Batch, EnvelopeError, decode_batch, encode_json

Scalar = float | int | bool | str
RowKind = Literal["reading", "window"]
RAW_EPOCH_PREFIX = "sha256:"


@dataclass(frozen=True, slots=True, order=True)
class MessageKey:
    """Identity of one message for idempotent writes: (device, epoch, seq) of a batch; for a raw
    message, ``epoch`` is ``sha256:<digest of its bytes>`` and ``seq`` is 0."""

    device: str
    epoch: str
    seq: int

    def __str__(self) -> str:
        return f"{self.device}/{self.epoch}/{self.seq}"


@dataclass(frozen=True, slots=True)
class Row:
    """One reading or one window of one point, flattened for tables and Parquet."""

    device: str
    point: str
    t: int
    kind: RowKind
    value: float | None
    """Numeric value (bools as 0/1); for a window, its ``last`` when numeric."""
    text: str | None
    """String value, when the reading is a string."""
    q: int
    site: str | None = None
    asset_type: str | None = None
    epoch: str | None = None
    seq: int | None = None
    w: int | None = None
    n: int | None = None
    min: float | None = None
    max: float | None = None
    avg: float | None = None


@dataclass(frozen=True, slots=True)
class Record:
    """A rule output ready for the sinks."""

    key: MessageKey
    device: str
    data: bytes
    """The output as sent on the wire (compact JSON, or the binary passthrough bytes)."""
    rows: tuple[Row, ...]
    latest: Mapping[str, tuple[int, Scalar | None]]
    """Latest value per point with its time (ms): the batch's ``last``, or a raw object's fields."""
    site: str | None = None
    asset_type: str | None = None


def encode_output(output: Any) -> bytes:
    """The bytes of a rule output: binary passes through; anything else is compact JSON."""
    if isinstance(output, bytes | bytearray):
        return bytes(output)
    try:
        return json.dumps(output, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    except ValueError:  # NaN or infinity somewhere: the envelope's encoder turns them into null
        return encode_json(output)


def to_record(output: Any, *, timestamp: int, device: str, explode: bool = True) -> Record:
    """Key and rows of a rule output; ``timestamp`` (ms) and ``device`` apply to raw messages.

    With ``explode`` False a batch envelope is taken as any other object, one row per top-level
    scalar attribute: what AWS's per-message actions (timestream, dynamoDBv2) make of it.
    """
    data = encode_output(output)
    if explode and isinstance(output, Mapping):
        try:
            return _batch_record(decode_batch(output), data)
        except EnvelopeError:
            pass
    key = MessageKey(device, RAW_EPOCH_PREFIX + hashlib.sha256(data).hexdigest()[:32], 0)
    fields = _scalar_fields(output)
    rows = tuple(_row(device, point, timestamp, "reading", value, 0, key=key)
                 for point, value in fields.items())
    return Record(key=key, device=device, data=data, rows=rows,
                  latest={point: (timestamp, value) for point, value in fields.items()})


def explode_batch(data: bytes) -> Record:
    """The rows of one batch envelope's wire bytes; raises :class:`EnvelopeError` for anything else."""
    return _batch_record(decode_batch(data), data)


def _batch_record(batch: Batch, data: bytes) -> Record:
    key = MessageKey(*batch.key)
    site, asset_type = batch.site, batch.asset_type
    rows = [_row(batch.device, r.point, r.t, "reading", r.v, int(r.q), key=key, site=site,
                 asset_type=asset_type) for r in batch.readings]
    rows += [
        Row(device=batch.device, point=w.point, t=w.t, kind="window", value=_number(w.last),
            text=None, q=int(w.q), w=w.w, n=w.n, min=_number(w.min), max=_number(w.max),
            avg=_number(w.avg), epoch=key.epoch, seq=key.seq, site=site, asset_type=asset_type)
        for w in batch.windows
    ]
    return Record(key=key, device=batch.device, data=data, rows=tuple(rows),
                  latest={p: (batch.end, v) for p, v in batch.last.items()}, site=site,
                  asset_type=asset_type)


def _row(device: str, point: str, t: int, kind: RowKind, v: Scalar | None, q: int, *,
         key: MessageKey, site: str | None = None, asset_type: str | None = None) -> Row:
    return Row(device=device, point=point, t=t, kind=kind, value=_number(v),
               text=v if isinstance(v, str) else None, q=q, site=site, asset_type=asset_type,
               epoch=key.epoch, seq=key.seq)


def _number(v: object) -> float | None:
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, int | float):
        return float(v)
    return None


def _scalar_fields(output: Any) -> dict[str, Scalar]:
    if not isinstance(output, Mapping):
        return {}
    return {str(k): v for k, v in output.items() if isinstance(v, int | float | bool | str)}

