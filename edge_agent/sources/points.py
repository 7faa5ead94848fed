"""What every point has, whatever bus it lives on: a name, engineering unit, scaling, reporting mode."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from edge_agent.units import Duration

ReportMode = Literal["raw", "window", "deadband"]


class StrictModel(BaseModel):
    """Base of every config model: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Deadband(StrictModel):
    """Report by exception: a change larger than ``absolute`` or ``percent`` of the last reported
    value, or at least every ``heartbeat``."""

    absolute: float | None = Field(default=None, ge=0)
    percent: float | None = Field(default=None, ge=0)
    heartbeat: Duration = 300.0

    @model_validator(mode="after")
    def _one_threshold(self) -> Deadband:
        if self.absolute is None and self.percent is None:
            raise ValueError("set absolute or percent (or both)")
        return self


class PointBase(StrictModel):
    """Fields common to Modbus and OPC-UA points.

    ``count`` > 1 declares an array of identical points: ``name`` is then a format string
    with ``{i}`` (the element's index, counted from ``start``), and bus-specific addressing
    advances by ``stride`` per element.
    """

    name: str = Field(min_length=1, max_length=128)
    unit: str | None = None
    scale: float = 1.0
    offset: float = 0.0
    mode: ReportMode | None = None
    """Overrides the aggregation default for this point."""
    deadband: Deadband | None = None
    count: int = Field(default=1, ge=1, le=100_000)
    start: int = Field(default=0, ge=0)
    """Index of the first element of an array point (``{i}`` in names and node ids)."""

    def indices(self) -> range:
        """The ``{i}`` values of the elements of this point."""
        return range(self.start, self.start + self.count)

    def expanded_names(self) -> list[str]:
        if self.count == 1:
            return [self.name]
        return [self.name.format(i=i) for i in self.indices()]

    @model_validator(mode="after")
    def _array_names(self) -> PointBase:
        if self.count > 1 and "{i" not in self.name:
            raise ValueError("a point with count > 1 needs '{i}' in its name")
        if self.mode == "deadband" and self.deadband is None:
            raise ValueError("mode deadband needs a deadband: {absolute: ..., percent: ...}")
        return self
