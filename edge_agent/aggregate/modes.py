"""How each point is reported: ``raw``, ``window`` or ``deadband``, resolved from the config."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from edge_agent.aggregate.config import AggregationConfig
from edge_agent.sources.points import Deadband, PointBase, ReportMode


@dataclass(frozen=True, slots=True)
class PointMode:
    """The reporting mode of one point; ``deadband`` is set exactly when ``mode`` is deadband."""

    mode: ReportMode
    deadband: Deadband | None = None

    def __post_init__(self) -> None:
        if (self.mode == "deadband") != (self.deadband is not None):
            raise ValueError("a deadband goes with mode deadband, and only with it")


class PointSource(Protocol):
    """A configured device: anything with points (Modbus, OPC-UA)."""

    @property
    def points(self) -> Sequence[PointBase]: ...


def default_mode(aggregation: AggregationConfig) -> PointMode:
    """The mode of a point that does not set its own."""
    return PointMode(aggregation.mode, aggregation.deadband if aggregation.mode == "deadband" else None)


def resolve_point_modes(devices: Iterable[PointSource],
                        aggregation: AggregationConfig) -> dict[str, PointMode]:
    """Mode of every configured point (arrays expanded): the point's own, else the default."""
    modes: dict[str, PointMode] = {}
    for device in devices:
        for point in device.points:
            mode = point.mode or aggregation.mode
            deadband = (point.deadband or aggregation.deadband) if mode == "deadband" else None
            resolved = PointMode(mode, deadband)
            for name in point.expanded_names():
                modes[name] = resolved
    return modes
