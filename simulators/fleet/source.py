"""A reefer controller inside the simulator: an :class:`~edge_agent.interfaces.Source` whose scans
the fleet clock triggers, sampling a :class:`~simulators.profiles.reefer.Reefer` model each time.

It stands in for the Modbus controller of a trailer (same point names as the reefer register
map) without a socket per trailer. ``time_scale`` runs the model faster than the wall clock (a
fleet that reports every second can live 30 s of trailer life per scan, so doors open and alarms
fire within a short test); reading timestamps stay on the wall clock. If the agent falls behind, scans are skipped and counted
(``overruns``), as a poll that cannot start while the previous one runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Self

from edge_agent.envelope import Reading
from edge_agent.metrics import Counters
from simulators.fleet.clock import FleetClock
from simulators.profiles.reefer import Reefer

PENDING_SCANS = 2
"""Scans that may wait for the agent before new ones are skipped."""
POINT_NAMES = {spec.key: spec.point_name for spec in Reefer.signals}
"""Model key (``Reefer.ReturnAir``) -> point name (``reefer_return_air``), as the register map names them."""


class ReeferSource:
    """One trailer's controller, scanned at ``phase`` seconds into each period of ``clock``."""

    def __init__(self, name: str, model: Reefer, clock: FleetClock, phase: float, *,
                 time_scale: float = 1.0, origin: float = 0.0) -> None:
        self.name = name
        self._time_scale = time_scale
        self._origin = origin
        self.counters = Counters()
        self._model = model
        self._clock = clock
        self._phase = phase
        self._due: asyncio.Queue[float] = asyncio.Queue(maxsize=PENDING_SCANS)
        self._handle: int | None = None

    async def __aenter__(self) -> Self:
        self._handle = self._clock.subscribe(self._phase, self._on_tick)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._clock.unsubscribe(self._handle)
            self._handle = None

    def _on_tick(self, wall: float) -> None:
        try:
            self._due.put_nowait(wall)
        except asyncio.QueueFull:
            self.counters.inc("overruns")

    async def scans(self) -> AsyncIterator[Sequence[Reading]]:
        while True:
            wall = await self._due.get()
            yield self.scan(wall)

    def scan(self, wall: float) -> list[Reading]:
        """Sample the model at ``wall`` (seconds since the epoch): one reading per signal."""
        t = int(wall * 1000)
        device = self.name
        self.counters.inc("scans")
        model_time = self._origin + (wall - self._origin) * self._time_scale
        return [Reading(device, POINT_NAMES[key], t, value)
                for key, value in self._model.sample(model_time).items()]
