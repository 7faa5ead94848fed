"""Simulated reefer fleets at scale: thousands of real edge agents in one process against the
local IoT Core rig, with dead zones, broker storms and a cloud-side ledger that proves nothing
was lost. Entry points: :class:`Fleet` and ``edgeferry sim fleet``."""

from simulators.fleet.config import DeadZones, FleetConfig, Storm
from simulators.fleet.fleet import Fleet
from simulators.fleet.report import FleetReport

__all__ = ["DeadZones", "Fleet", "FleetConfig", "FleetReport", "Storm"]
