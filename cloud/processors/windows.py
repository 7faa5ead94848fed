"""Keyed tumbling and sliding windows on event time, with watermarks and an allowed lateness.

Each device (the key) has its own watermark: the latest reading time it has sent minus
``outOfOrderness`` — a reefer that was offline for an hour delivers its backlog in order, and its
readings are not late merely because other trailers are ahead. A window ``[start, start + size)``
is emitted once, when the device's watermark passes ``start + size + allowedLateness``; a reading
arriving after every window that holds it was emitted is *late*: it is counted and returned to
the caller, who routes it (late stream or dead-letter queue) — never dropped silently.

A tumbling window is a sliding window whose ``slide`` equals its ``size`` (the default).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import model_validator

from cloud.processors.inputs import DeviceInput
from cloud.rules.actions.base import CloudModel, Duration
from cloud.stores.records import MessageKey, Record, Row


class WindowSpec(CloudModel):
    """One windowed aggregate, e.g. per-trailer 5-minute averages of the return air."""

    name: str
    size: Duration
    slide: Duration | None = None
    """Sliding windows: a new window every ``slide``; None: tumbling (``slide`` = ``size``)."""
    points: tuple[str, ...] = ()
    """Points aggregated; empty: every numeric or boolean point."""
    allowed_lateness: Duration = 0.0
    out_of_orderness: Duration = 0.0

    @model_validator(mode="after")
    def _check(self) -> WindowSpec:
        if self.size <= 0:
            raise ValueError(f"window {self.name}: size must be positive")
        slide = self.slide if self.slide is not None else self.size
        if slide <= 0 or self.size_ms % int(slide * 1000):
            raise ValueError(f"window {self.name}: slide must divide size")
        return self

    @property
    def size_ms(self) -> int:
        return int(self.size * 1000)

    @property
    def slide_ms(self) -> int:
        return int((self.slide if self.slide is not None else self.size) * 1000)


@dataclass(frozen=True, slots=True)
class WindowResult:
    """The aggregate of one point of one device over ``[start, start + size)``."""

    window: str
    device: str
    point: str
    start: int
    size: int
    n: int
    min: float
    max: float
    avg: float
    first: float
    last: float


@dataclass(frozen=True, slots=True)
class LateReading:
    """A reading that came after every window holding it was emitted."""

    window: str
    device: str
    point: str
    t: int
    value: float
    watermark: int


_Acc = list[float]
"""n, sum, min, max, first, last (a list: cheap to update and to checkpoint as JSON)."""


class _DeviceWindows:
    __slots__ = ("open", "watermark")

    def __init__(self, watermark: int, open_: dict[tuple[str, int], _Acc]) -> None:
        self.watermark = watermark
        self.open = open_


class WindowOperator:
    """The windows of one :class:`WindowSpec` for every device of a partition."""

    def __init__(self, spec: WindowSpec) -> None:
        self.spec = spec
        self._devices: dict[str, _DeviceWindows] = {}
        self.late = 0
        """Readings found late so far (also returned one by one by :meth:`add`)."""

    def add(self, inp: DeviceInput) -> tuple[list[WindowResult], list[LateReading]]:
        """Take one input; return the windows it closes and the readings of it that are late."""
        spec, size, slide = self.spec, self.spec.size_ms, self.spec.slide_ms
        state = self._devices.get(inp.device)
        if state is None:
            state = self._devices[inp.device] = _DeviceWindows(-(2**62), {})
        late: list[LateReading] = []
        lateness = int(spec.allowed_lateness * 1000)
        for point, raw in inp.values.items():
            if (spec.points and point not in spec.points) or not _numeric(raw):
                continue
            value = float(raw)  # type: ignore[arg-type]
            last_start = inp.t - inp.t % slide
            if last_start + size + lateness <= state.watermark:
                late.append(LateReading(spec.name, inp.device, point, inp.t, value, state.watermark))
                continue
            for start in range(last_start, inp.t - size, -slide):
                if start + size + lateness <= state.watermark:
                    break  # this window and older ones were emitted already
                acc = state.open.get((point, start))
                if acc is None:
                    state.open[(point, start)] = [1.0, value, value, value, value, value]
                else:
                    acc[0] += 1
                    acc[1] += value
                    acc[2] = min(acc[2], value)
                    acc[3] = max(acc[3], value)
                    acc[5] = value
        self.late += len(late)
        state.watermark = max(state.watermark, inp.t - int(spec.out_of_orderness * 1000))
        return self._close(inp.device, state), late

    def _close(self, device: str, state: _DeviceWindows) -> list[WindowResult]:
        horizon = state.watermark - int(self.spec.allowed_lateness * 1000) - self.spec.size_ms
        due = sorted((start, point) for point, start in state.open if start <= horizon)
        out = []
        for start, point in due:
            n, total, lo, hi, first, last = state.open.pop((point, start))
            out.append(WindowResult(self.spec.name, device, point, start, self.spec.size_ms, int(n),
                                    lo, hi, total / n, first, last))
        return out

    def snapshot(self, device: str) -> dict[str, Any] | None:
        """One device's state, JSON-ready (for the checkpoint)."""
        state = self._devices.get(device)
        if state is None:
            return None
        return {"wm": state.watermark, "open": [[p, s, *acc] for (p, s), acc in state.open.items()]}

    def restore(self, device: str, saved: dict[str, Any]) -> None:
        self._devices[device] = _DeviceWindows(
            int(saved["wm"]), {(str(p), int(s)): [float(x) for x in acc] for p, s, *acc in saved["open"]})


def window_records(results: Sequence[WindowResult]) -> list[Record]:
    """Closed windows as time-series records: one per (device, window, start), keyed so that a
    replay writes nothing twice. The point is stored as ``<point>#<window name>``."""
    groups: dict[tuple[str, str, int], list[WindowResult]] = {}
    for r in results:
        groups.setdefault((r.device, r.window, r.start), []).append(r)
    records = []
    for (device, window, start), group in groups.items():
        key = MessageKey(device, f"window:{window}", start)
        rows = tuple(Row(device=device, point=f"{r.point}#{window}", t=start, kind="window",
                         value=r.last, text=None, q=0, w=r.size, n=r.n, min=r.min, max=r.max,
                         avg=r.avg, epoch=key.epoch, seq=start) for r in group)
        data = json.dumps([[r.point, r.n, r.min, r.max, r.avg] for r in group]).encode()
        records.append(Record(key=key, device=device, data=data, rows=rows, latest={}))
    return records


def _numeric(v: object) -> bool:
    """Numbers and booleans (a boolean's average is the share of the window it was true)."""
    return isinstance(v, int | float) and v == v  # NaN is not a value
