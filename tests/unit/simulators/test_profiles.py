"""Signal profiles: plausible, deterministic, and a register map that fits the tables."""

from __future__ import annotations

import itertools
import math

import pytest

from simulators.profiles import PROFILES, PumpStation, Reefer, build_model, daily_curve, modbus_map
from simulators.profiles.modbus_map import MapEntry

T0 = 1_790_000_000.0  # a fixed instant, so tests do not depend on the time of day


def run(profile: str, seconds: int, step: float = 10.0, **kw: object) -> list[dict[str, object]]:
    model = build_model(profile, **kw)
    return [model.sample(T0 + k * step) for k in range(int(seconds / step))]


@pytest.mark.parametrize("profile", PROFILES)
def test_every_signal_is_sampled_with_its_kind(profile: str) -> None:
    model = build_model(profile, points=100)
    values = model.sample(T0)
    assert set(values) == {s.key for s in model.signals}
    for spec in model.signals:
        value = values[spec.key]
        expected = {"analog": float, "counter": int, "state": bool, "text": str}[spec.kind]
        assert (isinstance(value, expected) and not isinstance(value, bool)) or spec.kind == "state", spec.key
        if isinstance(value, float):
            assert math.isfinite(value), spec.key


@pytest.mark.parametrize("profile", PROFILES)
def test_same_seed_same_signals(profile: str) -> None:
    assert run(profile, 600, seed=4) == run(profile, 600, seed=4)
    assert run(profile, 600, seed=4) != run(profile, 600, seed=5)


def test_pump_station_size_follows_points() -> None:
    assert isinstance(station := build_model("pump-station", points=1000), PumpStation)
    assert len(station.signals) >= 1000
    assert station.pumps == math.ceil((1000 - 10) / 7)
    assert build_model("pump-station").signals[0].key == "Station.TankLevel"


def test_pump_station_is_plausible_over_a_day() -> None:
    samples = run("pump-station", 86_400, step=60.0, points=40)
    levels = [float(s["Station.TankLevel"]) for s in samples]
    flows = [float(s["Station.StationFlow"]) for s in samples]
    assert all(0.2 <= lv <= 6.0 for lv in levels)
    assert max(flows) > 2 * min(flows), "demand follows a daily curve"
    for s in samples:
        for p in range(1, 6):
            if not s[f"Pump{p}.Running"]:
                assert s[f"Pump{p}.Flow"] == 0.0
    assert any(s["Pump1.Running"] for s in samples)
    assert 0.3 < sum(float(s["Station.ChlorineDose"]) for s in samples) / len(samples) < 1.2


def test_reefer_holds_its_setpoint_and_drives() -> None:
    samples = run("reefer", 4 * 3600, step=5.0, seed=1)
    late = samples[len(samples) // 4:]
    mean = sum(float(s["Reefer.ReturnAir"]) for s in late) / len(late)
    assert mean == pytest.approx(-18.0, abs=2.5)
    assert {s["Reefer.Compressor"] for s in late} == {True, False}, "the compressor cycles"
    assert float(samples[-1]["Reefer.FuelLevel"]) < float(samples[0]["Reefer.FuelLevel"])
    positions = {(round(float(s["Reefer.Latitude"]), 2), round(float(s["Reefer.Longitude"]), 2))
                 for s in samples}
    assert len(positions) > 50, "the trailer moves"
    assert all(48.0 < lat < 52.5 and 2.0 < lon < 5.0 for lat, lon in positions)


def test_reefer_setpoint_is_writable() -> None:
    model = Reefer(seed=0)
    model.set("Reefer.Setpoint", 2.0)
    assert model.sample(T0)["Reefer.Setpoint"] == 2.0
    with pytest.raises(KeyError):
        model.set("Reefer.Speed", 1.0)


def test_daily_curve_peaks_in_the_morning_and_evening() -> None:
    day = 86_400 * 20_000
    assert daily_curve(day + 7.5 * 3600) > 0.9
    assert daily_curve(day + 19 * 3600) > 0.9
    assert daily_curve(day + 3 * 3600) < 0.4


@pytest.mark.parametrize("profile", PROFILES)
def test_register_map_entries_do_not_overlap(profile: str) -> None:
    model = build_model(profile, points=2000)
    entries = modbus_map(profile, model)
    assert {e.signal.key for e in entries} == {s.key for s in model.signals}
    by_table: dict[str, list[MapEntry]] = {}
    for e in entries:
        by_table.setdefault(e.table, []).append(e)
    for table, items in by_table.items():
        items.sort(key=lambda e: e.address)
        for a, b in itertools.pairwise(items):
            assert a.address + a.width <= b.address, (table, a.signal.key, b.signal.key)
        assert items[-1].address + items[-1].width <= 65536


def test_map_entries_become_valid_point_configs() -> None:
    from edge_agent.sources.modbus.config import ModbusPoint

    model = build_model("reefer")
    points = [ModbusPoint.model_validate(e.point_config()) for e in modbus_map("reefer", model)]
    assert {p.name for p in points} >= {"reefer_return_air", "reefer_setpoint", "reefer_door_open"}
    assert next(p for p in points if p.name == "reefer_return_air").word_order == "little"


def test_unknown_profile_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown profile"):
        build_model("boiler")
    with pytest.raises(ValueError, match="not a 'reefer' model"):
        modbus_map("reefer", build_model("pump-station"))
