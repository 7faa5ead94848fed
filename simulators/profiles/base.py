"""What every signal model offers: a catalogue of signals and a sample of all of them at a time."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Literal, Protocol

SignalValue = float | int | bool | str
Kind = Literal["analog", "counter", "state", "text"]


@dataclass(frozen=True, slots=True)
class SignalSpec:
    """One signal of a simulated asset: ``group`` (``Station``, ``Pump3``) and ``field`` (``Flow``)."""

    group: str
    field: str
    kind: Kind
    unit: str | None = None
    writable: bool = False
    """A setpoint or command a client may write (the model reads it back from ``set``)."""

    @property
    def key(self) -> str:
        """``Pump3.Flow``: the key in :meth:`SignalModel.sample` and the OPC-UA string node id."""
        return f"{self.group}.{self.field}"

    @property
    def point_name(self) -> str:
        """``pump3_flow``: a point name that reads well in rules (``last.pump3_flow``)."""
        return f"{_snake(self.group)}_{_snake(self.field)}"


class SignalModel(Protocol):
    """A simulated asset. Deterministic for a given seed and sequence of sample times."""

    signals: tuple[SignalSpec, ...]

    def sample(self, now: float) -> dict[str, SignalValue]:
        """Advance the model to ``now`` (seconds since the epoch) and return every signal by key."""
        ...

    def set(self, key: str, value: SignalValue) -> None:
        """Apply a client's write to a writable signal (a setpoint)."""
        ...


def _snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and not name[i - 1].isupper() and not name[i - 1].isdigit():
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


def daily_curve(now: float, *, peaks: tuple[float, ...] = (7.5, 19.0), width: float = 2.0) -> float:
    """A 0..1 diurnal shape (local time = UTC here): a night trough and Gaussian peaks at ``peaks`` hours."""
    hour = (now % 86400.0) / 3600.0
    shape = 0.25
    for peak in peaks:
        distance = min(abs(hour - peak), 24.0 - abs(hour - peak))
        shape += 0.75 * math.exp(-0.5 * (distance / width) ** 2)
    return min(1.0, shape)


class Noise:
    """Seeded Gaussian noise so that two simulators with one seed show the same signals."""

    __slots__ = ("_rng",)

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def gauss(self, sigma: float) -> float:
        return self._rng.gauss(0.0, sigma)

    def chance(self, probability: float) -> bool:
        return self._rng.random() < probability

    def uniform(self, low: float, high: float) -> float:
        return self._rng.uniform(low, high)
