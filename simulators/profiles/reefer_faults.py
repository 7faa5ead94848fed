"""A labelled evaluation set for anomaly detection: reefer trailers with injected faults.

Each :class:`FaultCase` is one trailer over a few days, healthy on the first day (the detectors
learn it), with its fault starting at ``onset`` on a later day:

- ``compressor``: the compressor's cooling falls linearly over ``ramp`` hours until the return
  air leaves its band (cooling no longer keeps up once it is below ~45 % of rated);
- ``door``: the doors stay open for two hours at a stop's end;
- ``stuck_sensor``: the return-air sensor repeats its last value;
- ``setpoint_drift``: the controller's setpoint creeps up 0.5 °C an hour (the cargo's ordered
  setpoint, the label's, stays put);
- ``hot_weather``: no fault — a heat wave adds 12 °C to the ambient (the false-alarm trap).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from simulators.profiles.base import SignalValue
from simulators.profiles.reefer import Reefer

FAULTS = ("compressor", "door", "stuck_sensor", "setpoint_drift", "hot_weather")
HOUR = 3600.0
DAY = 86400.0


@dataclass(frozen=True, slots=True)
class FaultCase:
    trailer: str
    fault: str
    seed: int
    onset: float
    """Seconds after the start when the fault begins (for ``hot_weather``: the heat wave)."""
    ramp: float = 8 * HOUR
    setpoint: float = -18.0
    """The cargo's ordered setpoint: a breach is the return air above it + 3 °C."""

    @property
    def faulty(self) -> bool:
        return self.fault != "hot_weather"


def cases(per_fault: int, *, seed: int = 0) -> list[FaultCase]:
    """``per_fault`` trailers of each kind, onsets and ramps drawn from ``seed``."""
    rng = random.Random(seed)
    out = []
    for fault in FAULTS:
        for i in range(per_fault):
            onset = rng.uniform(1.1 * DAY, 1.6 * DAY)
            out.append(FaultCase(f"{fault}-{i:03d}", fault, rng.randrange(2**31), onset,
                                 ramp=rng.uniform(6 * HOUR, 12 * HOUR),
                                 setpoint=rng.choice((-18.0, -20.0, 2.0, 4.0))))
    return out


def run(case: FaultCase, *, start: float, days: float, every: float = 30.0
        ) -> Iterator[tuple[float, dict[str, SignalValue]]]:
    """The trailer's samples (time in seconds, signal values) every ``every`` seconds."""
    reefer = Reefer(seed=case.seed, setpoint=case.setpoint)
    frozen: float | None = None
    t = start
    while t < start + days * DAY:
        elapsed = t - start
        active = elapsed >= case.onset
        if case.fault == "compressor" and active:
            reefer.cooling_efficiency = max(0.2, 1.0 - 0.8 * (elapsed - case.onset) / case.ramp)
        elif case.fault == "hot_weather" and active:
            reefer.ambient_offset = 12.0
        elif case.fault == "setpoint_drift" and active:
            reefer.set("Reefer.Setpoint", case.setpoint + 0.5 * (elapsed - case.onset) / HOUR)
        elif case.fault == "door" and active and elapsed < case.onset + every:
            reefer.hold_door_open(t + 2 * HOUR)
        values = reefer.sample(t)
        if case.fault == "stuck_sensor" and active:
            frozen = frozen if frozen is not None else float(values["Reefer.ReturnAir"])
            values["Reefer.ReturnAir"] = frozen
        yield t, values
        t += every
