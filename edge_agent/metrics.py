"""Named counters and gauges each component keeps; the supervisor collects their snapshots."""

from __future__ import annotations

from collections import defaultdict


class Counters:
    """Monotonic counters and last-value gauges of one component (no global registry: many
    agents can share a process, as the fleet simulator does)."""

    __slots__ = ("_counts", "_gauges")

    def __init__(self) -> None:
        self._counts: defaultdict[str, int] = defaultdict(int)
        self._gauges: dict[str, float | int | str] = {}

    def inc(self, name: str, n: int = 1) -> None:
        self._counts[name] += n

    def set(self, name: str, value: float | int | str) -> None:
        self._gauges[name] = value

    def get(self, name: str) -> int:
        return self._counts.get(name, 0)

    def snapshot(self) -> dict[str, float | int | str]:
        return {**self._counts, **self._gauges}
