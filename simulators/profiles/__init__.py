"""Signal models of simulated assets, shared by the Modbus and OPC-UA simulators.

Pure Python, no I/O. A profile builds a :class:`SignalModel`: ``model.signals`` lists every
:class:`SignalSpec` (``group``/``field``, kind, unit; ``spec.key`` is ``"Pump3.Flow"``) and
``model.sample(now)`` advances the model to ``now`` (epoch seconds) and returns ``{key: value}``.
``model.set(key, value)`` applies a client's write to a writable signal (setpoints).

    model = build_model("pump-station", points=1000, seed=1)
    values = model.sample(time.time())          # {"Station.TankLevel": 3.1, "Pump1.Flow": 96.2, ...}
    entries = modbus_map("pump-station", model) # where each signal lives in the Modbus tables

Profiles: ``pump-station`` (station signals plus seven per pump; ``points`` sets the pump count)
and ``reefer`` (one trailer, thirteen signals; ``points`` is ignored).
"""

from __future__ import annotations

from typing import Final

from simulators.profiles.base import SignalModel, SignalSpec, SignalValue, daily_curve
from simulators.profiles.modbus_map import MapEntry, pump_station_map, reefer_map
from simulators.profiles.pump_station import PumpStation, pumps_for_points
from simulators.profiles.reefer import Reefer

PROFILES: Final = ("pump-station", "reefer")

__all__ = ["PROFILES", "MapEntry", "PumpStation", "Reefer", "SignalModel", "SignalSpec",
           "SignalValue", "build_model", "daily_curve", "modbus_map"]


def build_model(profile: str, *, points: int | None = None, seed: int = 0) -> SignalModel:
    """A fresh model of ``profile``; for ``pump-station``, enough pumps for ``points`` signals."""
    if profile == "pump-station":
        return PumpStation(pumps_for_points(points) if points else 4, seed=seed)
    if profile == "reefer":
        return Reefer(seed=seed)
    raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")


def modbus_map(profile: str, model: SignalModel) -> list[MapEntry]:
    """The register map of ``model`` (built by :func:`build_model` for ``profile``)."""
    if profile == "pump-station" and isinstance(model, PumpStation):
        return pump_station_map(model)
    if profile == "reefer" and isinstance(model, Reefer):
        return reefer_map(model)
    raise ValueError(f"model {type(model).__name__} is not a {profile!r} model")
