"""Byte sizes of envelope parts, computed without encoding the envelope.

The batcher adds these up as readings arrive, so deciding whether a reading still fits costs
a few hundred nanoseconds instead of a re-encode; one real encode at close checks the sum.
Each function returns the exact size of the part's compact JSON (``encode_json``) plus one
byte for the separating comma, so the running total errs on the large side.
"""

from __future__ import annotations

import math
from typing import Final

from edge_agent.envelope import Batch, Reading, Value, Window, encode_json

_READING_FIXED: Final = len(b'{"point":,"t":,"v":,"q":0}') + 1
_CODE_FIXED: Final = len(b',"code":')
_WIDE_INT: Final = -(10**15)
"""A timestamp at least as wide as any the envelope's start/end will hold in practice."""


def value_bytes(v: Value | None) -> int:
    """Size of a value's JSON (``null`` for NaN and infinities, as ``encode_json`` writes them)."""
    if isinstance(v, bool):
        return 4 if v else 5
    if isinstance(v, float):
        return len(repr(v)) if math.isfinite(v) else 4
    if isinstance(v, int):
        return len(str(v))
    if v is None:
        return 4
    return len(encode_json(v))


def name_bytes(name: str) -> int:
    """Size of a point name as a JSON string."""
    return len(encode_json(name))


def reading_bytes(r: Reading, name_size: int) -> tuple[int, int]:
    """Sizes of a reading in ``readings`` and of its value alone, given its name's size."""
    v = r.v
    # the common case first, without a call: a finite float (v - v is NaN for NaN and infinities)
    v_size = len(repr(v)) if type(v) is float and v - v == 0 else value_bytes(v)
    size = _READING_FIXED + name_size + len(str(r.t)) + v_size
    if r.code is not None:
        size += _CODE_FIXED + len(str(r.code))
    return size, v_size


class CompactColumns:
    """Running size of the readings in the compact form (``edgeferry.batch/2``): per point a column
    written once, then per reading its time delta and value, and ``q`` / ``code`` entries once a
    point has one. :meth:`cost` is what a reading would add, :meth:`add` commits it."""

    _COLUMN: Final = len(b'"":{"t":[],"v":[]}') + 1
    _Q_COLUMN: Final = len(b',"q":[]')
    _CODE_COLUMN: Final = len(b',"code":[]')

    def __init__(self) -> None:
        self._points: dict[str, tuple[int, int, bool, bool]] = {}
        """point -> (readings, last time, has q column, has code column)."""
        self._first_t: int | None = None

    def reset(self) -> None:
        self._points.clear()
        self._first_t = None

    def cost(self, r: Reading, name_size: int, v_size: int) -> int:
        state = self._points.get(r.point)
        if state is None:
            # the first delta is against the batch's start, which is at most the first time seen
            base = r.t if self._first_t is None else self._first_t
            count, previous, has_q, has_code = 0, base, False, False
            size = self._COLUMN + name_size + 1
        else:
            count, previous, has_q, has_code = state
            size = 0
        size += len(str(r.t - previous)) + 1 + v_size + 1
        if r.q or has_q:
            size += 2 if has_q else self._Q_COLUMN + 2 * (count + 1)
        if r.code is not None or has_code:
            code_size = len(str(r.code)) + 1 if r.code is not None else 5
            size += code_size if has_code else self._CODE_COLUMN + 5 * count + code_size
        return size

    def add(self, r: Reading) -> None:
        if self._first_t is None:
            self._first_t = r.t
        count, _, has_q, has_code = self._points.get(r.point, (0, r.t, False, False))
        self._points[r.point] = (count + 1, r.t, has_q or bool(r.q), has_code or r.code is not None)


def window_bytes(w: Window) -> int:
    """Size of a window in ``windows`` (windows are few: encoding each is cheap enough)."""
    return len(encode_json(w.to_json())) + 1


def last_entry_bytes(name_size: int, v_size: int) -> int:
    """Size of one ``"point":value`` entry of ``last``."""
    return name_size + 1 + v_size + 1


def envelope_overhead(device: str, site: str, asset_type: str, epoch: str) -> int:
    """Size of everything but the content: header, wide seq/start/end, empty containers."""
    skeleton = Batch(device=device, site=site, asset_type=asset_type, epoch=epoch, seq=2**63,
                     start=_WIDE_INT, end=_WIDE_INT)
    return len(skeleton.encode()) + len(b',"readings":[],"windows":[]')

