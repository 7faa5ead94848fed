"""How readings become batches: reporting modes, windows, flush limits, alarm conditions."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from edge_agent.envelope import MAX_PAYLOAD_BYTES, METERING_UNIT_BYTES
from edge_agent.sources.points import Deadband, ReportMode, StrictModel
from edge_agent.units import ByteSize, Duration


class AlarmRule(StrictModel):
    """A condition over the latest point values, e.g. ``return_air > setpoint + 3``.

    Allowed: point names, numbers, ``and``/``or``/``not``, comparisons, ``+ - * / abs()``.
    Fires once when the condition becomes true (and again after it has cleared).
    """

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    when: str = Field(min_length=1)
    message: str | None = None
    for_: Duration = Field(default=0.0, alias="for")
    """The condition must hold this long before the alarm fires."""


class AggregationConfig(StrictModel):
    mode: ReportMode = "raw"
    """Default reporting mode for points that do not set their own."""
    window: Duration = Field(default=60.0, gt=0)
    """Tumbling window length, aligned to wall-clock boundaries."""
    lateness: Duration = 0.0
    """How long past a window's end its readings are still awaited (sources that deliver late)."""
    deadband: Deadband | None = None
    """Default deadband for points in mode deadband."""
    bad_heartbeat: Duration = Field(default=300.0, ge=0)
    """While a point stays bad (or a device down), its bad reading (or the device's ``down``
    record) is repeated this often; in between only changes of quality or code are sent. 0: never."""

    @model_validator(mode="after")
    def _deadband_default(self) -> AggregationConfig:
        if self.mode == "deadband" and self.deadband is None:
            raise ValueError("mode deadband needs a deadband: {absolute: ..., percent: ...}")
        return self


class BatchingConfig(StrictModel):
    max_readings: int = Field(default=1000, ge=1)
    max_age: Duration = Field(default=10.0, gt=0)
    max_bytes: ByteSize = Field(default=METERING_UNIT_BYTES, ge=512, le=MAX_PAYLOAD_BYTES)
    """Payload size to fill without crossing; by default one 5 KB metering unit."""
    fill_metering_units: bool = True
    """Close a batch before it would spill into one more 5 KB unit than it needs."""
    form: Literal["full", "compact"] = "full"
    """``full``: ``edgeferry.batch/1``, one object per reading; ``compact``: ``edgeferry.batch/2``,
    readings as per-point columns with delta-encoded times (a third of the bytes or less). Every
    cloud consumer decodes both; a rule that reads ``readings`` itself sees ``points`` instead."""
