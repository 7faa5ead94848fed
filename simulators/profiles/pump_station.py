"""A water-utility pumping station: pumps filling a reservoir that a town drains on a daily curve."""

from __future__ import annotations

import math

from simulators.profiles.base import Kind, Noise, SignalSpec, SignalValue, daily_curve

PUMP_CAPACITY = 120.0
"""m³/h one pump delivers at full speed."""
TANK_AREA = 400.0
"""m² of reservoir surface: 1 m of level is 400 m³."""

STATION_SIGNALS = (
    SignalSpec("Station", "TankLevel", "analog", "m"),
    SignalSpec("Station", "ChlorineDose", "analog", "mg/L"),
    SignalSpec("Station", "InletPressure", "analog", "bar"),
    SignalSpec("Station", "StationFlow", "analog", "m3/h"),
    SignalSpec("Station", "TotalVolume", "analog", "m3"),
    SignalSpec("Station", "WaterTemp", "analog", "degC"),
    SignalSpec("Station", "AlarmWord", "counter"),
    SignalSpec("Station", "PumpsRunning", "counter"),
    SignalSpec("Station", "LevelSetpoint", "analog", "m", writable=True),
    SignalSpec("Station", "Name", "text"),
)
PUMP_FIELDS: tuple[tuple[str, Kind, str | None], ...] = (
    ("Flow", "analog", "m3/h"),
    ("Pressure", "analog", "bar"),
    ("Current", "analog", "A"),
    ("Speed", "analog", "Hz"),
    ("RunHours", "counter", "h"),
    ("Running", "state", None),
    ("Fault", "state", None),
)


def pump_signals(pump: int) -> tuple[SignalSpec, ...]:
    """The signals of pump ``pump`` (1-based): ``Pump<i>.Flow`` and so on."""
    return tuple(SignalSpec(f"Pump{pump}", f, kind, unit) for f, kind, unit in PUMP_FIELDS)


def pumps_for_points(points: int) -> int:
    """How many pumps a station needs to offer at least ``points`` signals (at least one pump)."""
    return max(1, math.ceil((points - len(STATION_SIGNALS)) / len(PUMP_FIELDS)))


class PumpStation:
    """Pumps switch in by demand and reservoir level; level, flows and chlorine dose follow the
    town's daily curve with noise; now and then a pump faults for a minute."""

    def __init__(self, pumps: int = 4, *, seed: int = 0, name: str = "Riverside PS") -> None:
        self.pumps = pumps
        self.signals = STATION_SIGNALS + tuple(s for p in range(1, pumps + 1) for s in pump_signals(p))
        self._noise = Noise(seed)
        self._name = name
        self._t: float | None = None
        self._level = 3.0
        self._setpoint = 3.5
        self._volume = 125_000.0
        self._run_hours = [1000.0 + 37.0 * p for p in range(pumps)]
        self._fault_until = [0.0] * pumps

    def set(self, key: str, value: SignalValue) -> None:
        if key != "Station.LevelSetpoint":
            raise KeyError(f"{key} is not writable")
        self._setpoint = float(value)

    def sample(self, now: float) -> dict[str, SignalValue]:
        dt = 0.0 if self._t is None else min(max(now - self._t, 0.0), 60.0)
        self._t = now
        demand = self.pumps * PUMP_CAPACITY * 0.7 * daily_curve(now) * (1 + self._noise.gauss(0.02))
        wanted = demand * (1.0 + 0.5 * (self._setpoint - self._level))
        needed = min(self.pumps, max(0, math.ceil(wanted / (PUMP_CAPACITY * 0.9))))
        lead = int(now // 86400) % self.pumps
        order = [(lead + k) % self.pumps for k in range(self.pumps)]
        running = set(order[:needed])
        out: dict[str, SignalValue] = {}
        inflow = 0.0
        alarm = 0
        for p in range(self.pumps):
            if self._noise.chance(dt * 2e-5):
                self._fault_until[p] = now + 60.0
            fault = now < self._fault_until[p]
            on = p in running and not fault
            flow = max(0.0, wanted / max(needed, 1) + self._noise.gauss(1.5)) if on else 0.0
            flow = min(flow, PUMP_CAPACITY)
            inflow += flow
            if on:
                self._run_hours[p] += dt / 3600.0
            alarm |= (1 << min(p, 15)) if fault else 0
            group = f"Pump{p + 1}"
            out[f"{group}.Flow"] = flow
            out[f"{group}.Pressure"] = (4.2 + 0.9 * (flow / PUMP_CAPACITY) ** 2 + self._noise.gauss(0.03)
                                        if on else 0.3 + self._noise.gauss(0.01))
            out[f"{group}.Current"] = (14.0 + 26.0 * flow / PUMP_CAPACITY + self._noise.gauss(0.2)
                                       if on else 0.0)
            out[f"{group}.Speed"] = max(30.0, 50.0 * flow / PUMP_CAPACITY) if on else 0.0
            out[f"{group}.RunHours"] = int(self._run_hours[p])
            out[f"{group}.Running"] = on
            out[f"{group}.Fault"] = fault
        self._level = min(6.0, max(0.2, self._level + (inflow - demand) * dt / 3600.0 / TANK_AREA))
        self._volume += inflow * dt / 3600.0
        out.update({
            "Station.TankLevel": self._level + self._noise.gauss(0.005),
            "Station.ChlorineDose": 0.45 + 0.25 * daily_curve(now) + 0.0005 * inflow / self.pumps
            + self._noise.gauss(0.01),
            "Station.InletPressure": 1.8 + self._noise.gauss(0.02),
            "Station.StationFlow": inflow,
            "Station.TotalVolume": self._volume,
            "Station.WaterTemp": 11.0 + 3.0 * math.sin(2 * math.pi * (now % 31_557_600) / 31_557_600)
            + self._noise.gauss(0.05),
            "Station.AlarmWord": alarm,
            "Station.PumpsRunning": len(running) - sum(1 for p in running if now < self._fault_until[p]),
            "Station.LevelSetpoint": self._setpoint,
            "Station.Name": self._name,
        })
        return out
