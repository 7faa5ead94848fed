"""Bundles readings and closed windows into envelopes sized to the metering unit.

A batch closes when it holds ``max_readings`` items (readings and windows), when its first
item is ``max_age`` old (monotonic clock), or when the next item would take its payload past
the byte limit. Sizes are summed per item as they arrive (see :mod:`.sizing`) and checked by
one encode at close; a batch that still came out too large is split in two.
"""

from __future__ import annotations

import logging
from typing import Final

from edge_agent.aggregate.config import BatchingConfig
from edge_agent.aggregate.outbox import Outbox
from edge_agent.aggregate.sizing import (
    CompactColumns,
    envelope_overhead,
    last_entry_bytes,
    name_bytes,
    reading_bytes,
    value_bytes,
    window_bytes,
)
from edge_agent.envelope import MAX_PAYLOAD_BYTES, METERING_UNIT_BYTES, Quality, Reading, Value, Window
from edge_agent.metrics import Counters

log = logging.getLogger(__name__)

_FAR_FUTURE: Final = 1 << 62
_FAR_PAST: Final = -(1 << 62)

VALUE_TOO_LARGE: Final = -413
"""``Reading.code`` of a reading whose value could not fit in any envelope: the value is dropped,
the reading travels with quality bad and this code (negative codes are edgeferry's own)."""
VALUE_NOT_ENCODABLE: Final = -415
"""``Reading.code`` of a reading whose value JSON cannot hold (bytes, for one): dropped likewise."""


def byte_limit(batching: BatchingConfig) -> int:
    """Payload size a batch may fill: ``max_bytes``, rounded down to whole 5 KB metering units
    when ``fill_metering_units`` is set (IoT Core meters payloads in 5 KB steps, so the part of
    a unit left over would be paid for in full), never above the 128 KB IoT Core limit."""
    limit = batching.max_bytes
    if batching.fill_metering_units and limit >= METERING_UNIT_BYTES:
        limit = limit // METERING_UNIT_BYTES * METERING_UNIT_BYTES
    return min(limit, MAX_PAYLOAD_BYTES)


class Batcher:
    """The telemetry batch being filled; finished batches go to the :class:`Outbox`."""

    def __init__(self, outbox: Outbox, batching: BatchingConfig, counters: Counters) -> None:
        self._outbox = outbox
        self._counters = counters
        self._limit = byte_limit(batching)
        self._max_items = batching.max_readings
        self._max_age = batching.max_age
        h = outbox.header
        self._overhead = envelope_overhead(h.device, h.site, h.asset_type, h.epoch)
        self._alone_max = (MAX_PAYLOAD_BYTES - self._overhead) // 2
        """A reading larger than this might not fit alone (its value is in ``last`` too)."""
        self._names: dict[str, int] = {}
        self._columns = CompactColumns() if h.compact else None
        self._readings: list[Reading] = []
        self._windows: list[Window] = []
        self._last_sizes: dict[str, int] = {}
        self._bytes = self._overhead
        self._count = 0
        self._opened_at: float | None = None

    @property
    def limit(self) -> int:
        """Payload bytes a batch is filled to."""
        return self._limit

    def deadline(self) -> float | None:
        """Monotonic time at which the open batch reaches ``max_age``; None when empty."""
        return None if self._opened_at is None else self._opened_at + self._max_age

    def add_reading(self, r: Reading, now: float) -> None:
        """Bundle a reading (``now``: monotonic time, starts the batch's age if it is the first)."""
        point = r.point
        name_size = self._names.get(point)
        if name_size is None:
            name_size = self._names[point] = name_bytes(point)
        try:
            size, v_size = reading_bytes(r, name_size)
        except (TypeError, ValueError):  # a value JSON cannot hold (bytes, a set...) from a source
            r = self._without_value(r, VALUE_NOT_ENCODABLE, "values_not_encodable")
            size, v_size = reading_bytes(r, name_size)
        if size > self._alone_max:
            r = self._without_value(r, VALUE_TOO_LARGE, "values_too_large", bytes=size)
            size, v_size = reading_bytes(r, name_size)
        self._make_room(point, name_size, v_size, size, now, r)
        if self._columns is not None:
            self._columns.add(r)
        self._readings.append(r)
        self._count += 1
        if self._count >= self._max_items:
            self.close()

    def add_window(self, w: Window, now: float) -> None:
        """Bundle a closed window."""
        point = w.point
        name_size = self._names.get(point)
        if name_size is None:
            name_size = self._names[point] = name_bytes(point)
        self._make_room(point, name_size, value_bytes(w.last), window_bytes(w), now)
        self._windows.append(w)
        self._count += 1
        if self._count >= self._max_items:
            self.close()

    def expire(self, now: float) -> None:
        """Close the open batch if it has reached ``max_age``."""
        if self._opened_at is not None and now >= self._opened_at + self._max_age:
            self.close()

    def close(self) -> None:
        """Finish the open batch (if any) and post it."""
        if not self._count:
            return
        readings, windows = self._readings, self._windows
        self._readings, self._windows = [], []
        self._last_sizes = {}
        if self._columns is not None:
            self._columns.reset()
        self._bytes = self._overhead
        self._count = 0
        self._opened_at = None
        self._pack(readings, windows)

    def _make_room(self, point: str, name_size: int, v_size: int, size: int, now: float,
                   reading: Reading | None = None) -> None:
        """Account for an item about to be added, closing the batch first if it would overflow
        (a reading's size in the compact form depends on what the batch already holds)."""
        if reading is not None and self._columns is not None:
            size = self._columns.cost(reading, name_size, v_size)
        reserved = self._last_sizes.get(point)
        grow = size + (last_entry_bytes(name_size, v_size) if reserved is None
                       else max(0, v_size - reserved))
        if self._count and self._bytes + grow > self._limit:
            self.close()
            if reading is not None and self._columns is not None:
                size = self._columns.cost(reading, name_size, v_size)
            reserved = None
            grow = size + last_entry_bytes(name_size, v_size)
        self._last_sizes[point] = v_size if reserved is None else max(reserved, v_size)
        self._bytes += grow
        if self._opened_at is None:
            self._opened_at = now

    def _pack(self, readings: list[Reading], windows: list[Window]) -> None:
        """Post one batch of these items, or two halves if the encoded batch is over the limit."""
        start, end, last = _span_and_latest(readings, windows)
        batch = self._outbox.draft(start=start, end=end, last=last, readings=tuple(readings),
                                   windows=tuple(windows))
        encoded = len(batch.encode())
        if encoded > self._limit and len(readings) + len(windows) > 1:
            self._counters.inc("batch_splits")
            log.warning("batch_split_over_limit", extra={"bytes": encoded, "limit": self._limit,
                                                         "items": len(readings) + len(windows)})
            if readings and windows:
                self._pack(readings, [])
                self._pack([], windows)
            else:
                half = (len(readings) + len(windows)) // 2
                self._pack(readings[:half], windows[:half])
                self._pack(readings[half:], windows[half:])
            return
        self._outbox.post(batch)
        self._counters.inc("batches")
        self._counters.inc("batch_bytes", encoded)
        self._counters.inc("readings_out", len(readings))
        self._counters.inc("windows_out", len(windows))

    def _without_value(self, r: Reading, code: int, reason: str, **fields: object) -> Reading:
        """The reading with its value dropped: quality bad, ``code`` saying why (``reason`` counts)."""
        self._counters.inc(reason)
        log.warning("reading_value_dropped", extra={"reason": reason, "point": r.point, "t": r.t,
                                                    "value_type": type(r.v).__name__, **fields})
        return Reading(r.device, r.point, r.t, None, Quality.BAD, code)


def _span_and_latest(readings: list[Reading], windows: list[Window]
                     ) -> tuple[int, int, dict[str, Value | None]]:
    """A batch's ``start``/``end`` (earliest and latest time it covers; a window covers ``[t, t+w)``)
    and ``last``: each point's value with the latest time (a window's time is its last ms)."""
    start, end = _FAR_FUTURE, _FAR_PAST
    times: dict[str, int] = {}
    last: dict[str, Value | None] = {}
    for w in windows:
        start, end = min(start, w.t), max(end, w.t + w.w)
        t = w.t + w.w - 1
        if t >= times.get(w.point, t):
            times[w.point] = t
            last[w.point] = w.last
    for r in readings:
        t = r.t
        if t < start:
            start = t
        if t > end:
            end = t
        if t >= times.get(r.point, t):
            times[r.point] = t
            last[r.point] = r.v
    return start, end, last
