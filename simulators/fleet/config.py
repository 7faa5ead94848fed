"""What a fleet run is: how many trailers, how they report, and what happens to their links."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from edge_agent.sources.points import StrictModel
from edge_agent.units import Duration, parse_duration

MODEL_REPORT_EVERY = 30.0
"""The report interval the reefer model is made for; faster reporting runs the model faster."""


class Storm(StrictModel):
    """The broker goes away for everybody ``at`` seconds into the run, for ``down`` seconds."""

    at: Duration = Field(ge=0)
    down: Duration = Field(gt=0)

    @classmethod
    def parse(cls, text: str) -> Storm:
        """``AT:DOWN``, e.g. ``2m:30s``."""
        at, sep, down = text.partition(":")
        if not sep:
            raise ValueError(f"--storm {text!r}: expected AT:DOWN, e.g. 2m:30s")
        return cls(at=parse_duration(at), down=parse_duration(down))


class DeadZones(StrictModel):
    """A ``fraction`` of the trailers drive through dead zones lasting ``shortest`` to ``longest``."""

    fraction: float = Field(gt=0, le=1)
    shortest: Duration = Field(gt=0)
    longest: Duration = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> DeadZones:
        if self.longest < self.shortest:
            raise ValueError("the longest dead zone is shorter than the shortest")
        return self

    @classmethod
    def parse(cls, text: str) -> DeadZones:
        """``FRACTION:MIN-MAX``, e.g. ``0.1:2m-10m``."""
        fraction, sep, span = text.partition(":")
        shortest, dash, longest = span.partition("-")
        if not sep or not dash:
            raise ValueError(f"--dead-zones {text!r}: expected FRACTION:MIN-MAX, e.g. 0.1:2m-10m")
        try:
            share = float(fraction)
        except ValueError:
            raise ValueError(f"--dead-zones {text!r}: {fraction!r} is not a fraction") from None
        return cls(fraction=share, shortest=parse_duration(shortest), longest=parse_duration(longest))


class FleetConfig(StrictModel):
    """A fleet run. Durations are seconds (or strings such as ``30s``, ``5m``)."""

    trailers: int = Field(ge=1, le=100_000)
    directory: Path
    """Run directory: identities, spools, rig (with ``own_rig``), report and plots."""
    report_every: Duration = Field(default=30.0, gt=0)
    batch_every: Duration = Field(default=300.0, gt=0)
    batch_form: Literal["full", "compact"] = "full"
    """The envelope form the trailers send (``batching.form``)."""
    duration: Duration | None = Field(default=None, gt=0)
    """How long trailers report before the fleet winds down; None: until interrupted."""
    storm: Storm | None = None
    dead_zones: DeadZones | None = None
    broker_dir: Path | None = None
    """A rig started elsewhere (``edgeferry cloud up --dir D``); None: start one in the run directory."""
    identity: Literal["bulk", "provision"] = "bulk"
    prefix: str = Field(default="reefer", pattern=r"^[A-Za-z0-9_-]{1,40}$")
    site: str = Field(default="fleet", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    seed: int = 0
    connect_in_flight: int = Field(default=200, ge=1)
    """Trailers connecting at once at start (mosquitto's listen backlog is 100; see FIELD-NOTES)."""
    connect_jitter: Duration = 1.0
    reconnect_min: Duration = 1.0
    reconnect_max: Duration = 10.0
    max_in_flight: int = Field(default=2, ge=1, le=100)
    spool_workers: int = Field(default=16, ge=1, le=128)
    sample_every: Duration = Field(default=1.0, gt=0)
    drain_within: Duration = Field(default=120.0, gt=0)
    """At the end, how long to wait for every spool to empty and every batch to be counted."""
    dashboard: bool = True
    processes: int = Field(default=1, ge=1, le=64)
    """Processes to spread the trailers over (each holds trailers / processes; see ``control``)."""
    first: int = Field(default=0, ge=0)
    """Index of this process's first trailer when it runs one shard of a larger fleet."""
    fleet_size: int | None = None
    """Trailers in the whole fleet (None: ``trailers``); scan phases spread over all of them."""

    @property
    def time_scale(self) -> float:
        """How much faster than the wall clock the reefer models live (1 at 30 s reports)."""
        return max(1.0, MODEL_REPORT_EVERY / self.report_every)

    @property
    def size(self) -> int:
        return self.fleet_size or self.trailers

    @property
    def rig_dir(self) -> Path:
        return self.broker_dir or self.directory / "rig"
