"""A refrigerated trailer on the road: compressor cycling around the setpoint, door openings at
stops, a diesel genset draining its tank, and a GPS position moving along a route."""

from __future__ import annotations

import math

from simulators.profiles.base import Noise, SignalSpec, SignalValue

ROUTE = (
    (51.9500, 4.1400),   # Rotterdam, Maasvlakte
    (51.2200, 4.4000),   # Antwerp
    (50.6300, 3.0600),   # Lille
    (49.8900, 2.3000),   # Amiens
    (48.7500, 2.3500),   # Rungis market, Paris
)
"""Waypoints (lat, lon) the trailer drives to and fro."""
TOUR = ROUTE + ROUTE[-2::-1]

SIGNALS = (
    SignalSpec("Reefer", "ReturnAir", "analog", "degC"),
    SignalSpec("Reefer", "SupplyAir", "analog", "degC"),
    SignalSpec("Reefer", "Setpoint", "analog", "degC", writable=True),
    SignalSpec("Reefer", "Ambient", "analog", "degC"),
    SignalSpec("Reefer", "Compressor", "state"),
    SignalSpec("Reefer", "DoorOpen", "state"),
    SignalSpec("Reefer", "FuelLevel", "analog", "%"),
    SignalSpec("Reefer", "Latitude", "analog", "deg"),
    SignalSpec("Reefer", "Longitude", "analog", "deg"),
    SignalSpec("Reefer", "Speed", "analog", "km/h"),
    SignalSpec("Reefer", "EngineHours", "counter", "h"),
    SignalSpec("Reefer", "AlarmWord", "counter"),
    SignalSpec("Reefer", "ContainerId", "text"),
)
_KM_PER_DEG = 111.32


def _leg_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    mean_lat = math.radians((a[0] + b[0]) / 2)
    return math.hypot(b[0] - a[0], (b[1] - a[1]) * math.cos(mean_lat)) * _KM_PER_DEG


class Reefer:
    """Deterministic for one seed; ``sample`` advances the trailer to ``now``."""

    signals: tuple[SignalSpec, ...] = SIGNALS

    def __init__(self, *, seed: int = 0, setpoint: float = -18.0, container: str = "EFRU1234567") -> None:
        self._noise = Noise(seed)
        self._container = container
        self._t: float | None = None
        self._setpoint = setpoint
        self._return_air = setpoint + 1.0
        self._compressor = True
        self._door_until = 0.0
        self._stop_until = 0.0
        self._fuel = 85.0
        self._engine_hours = 5120.0
        self._leg = 0
        self._leg_progress_km = 0.0
        self._speed = 0.0
        self.cooling_efficiency = 1.0
        """Share of the compressor's rated cooling it delivers (a worn compressor: below 1)."""
        self.ambient_offset = 0.0
        """Added to the daily ambient curve (hot weather: a few degrees up)."""

    def set(self, key: str, value: SignalValue) -> None:
        if key != "Reefer.Setpoint":
            raise KeyError(f"{key} is not writable")
        self._setpoint = float(value)

    def hold_door_open(self, until: float) -> None:
        """Open the doors until ``until`` (seconds, the clock of :meth:`sample`): a door left open."""
        self._door_until = max(self._door_until, until)

    def _drive(self, now: float, dt: float) -> tuple[float, float]:
        stopped = now < self._stop_until
        if not stopped and self._noise.chance(dt / 5400.0):
            self._stop_until = now + self._noise.uniform(300.0, 1200.0)
            self._door_until = now + self._noise.uniform(60.0, 180.0)
            stopped = True
        target = 0.0 if stopped else 82.0 + self._noise.gauss(4.0)
        self._speed += (target - self._speed) * min(1.0, dt / 20.0)
        self._speed = max(0.0, self._speed)
        self._leg_progress_km += self._speed * dt / 3600.0
        a, b = TOUR[self._leg], TOUR[self._leg + 1]
        while self._leg_progress_km >= _leg_km(a, b):
            self._leg_progress_km -= _leg_km(a, b)
            self._leg = (self._leg + 1) % (len(TOUR) - 1)
            a, b = TOUR[self._leg], TOUR[self._leg + 1]
        f = self._leg_progress_km / _leg_km(a, b)
        return a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f

    def sample(self, now: float) -> dict[str, SignalValue]:
        dt = 0.0 if self._t is None else min(max(now - self._t, 0.0), 60.0)
        self._t = now
        lat, lon = self._drive(now, dt)
        ambient = 14.0 + self.ambient_offset + 6.0 * math.sin(2 * math.pi * ((now % 86400.0) / 86400.0 - 0.375))
        door = now < self._door_until
        if self._return_air > self._setpoint + 1.0:
            self._compressor = True
        elif self._return_air < self._setpoint - 1.0:
            self._compressor = False
        warming = (ambient - self._return_air) * (0.0015 if door else 0.0004)
        cooling = -0.03 * self.cooling_efficiency if self._compressor else 0.0
        self._return_air += (warming + cooling) * dt
        if self._compressor:
            self._engine_hours += dt / 3600.0
        self._fuel -= dt * (0.0009 if self._compressor else 0.0003)
        if self._fuel < 5.0:
            self._fuel = 95.0
        supply = self._return_air - (4.5 if self._compressor else 0.3)
        alarm = (1 if self._return_air > self._setpoint + 3.0 else 0) | (2 if self._fuel < 15.0 else 0)
        return {
            "Reefer.ReturnAir": self._return_air + self._noise.gauss(0.05),
            "Reefer.SupplyAir": supply + self._noise.gauss(0.05),
            "Reefer.Setpoint": self._setpoint,
            "Reefer.Ambient": ambient + self._noise.gauss(0.1),
            "Reefer.Compressor": self._compressor,
            "Reefer.DoorOpen": door,
            "Reefer.FuelLevel": self._fuel,
            "Reefer.Latitude": lat,
            "Reefer.Longitude": lon,
            "Reefer.Speed": self._speed,
            "Reefer.EngineHours": int(self._engine_hours),
            "Reefer.AlarmWord": alarm,
            "Reefer.ContainerId": self._container,
        }
