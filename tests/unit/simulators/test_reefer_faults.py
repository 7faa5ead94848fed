"""The labelled reefer fault set: each fault shows in the signals the way its label says."""

from __future__ import annotations

from simulators.profiles.reefer_faults import DAY, FAULTS, HOUR, FaultCase, cases, run


def return_air(case: FaultCase, days: float = 2.0) -> list[tuple[float, float]]:
    return [(t, float(v["Reefer.ReturnAir"])) for t, v in run(case, start=0.0, days=days)]  # type: ignore[arg-type]


def test_a_worn_compressor_lets_the_return_air_leave_its_band_only_after_the_onset() -> None:
    case = FaultCase("c", "compressor", seed=4, onset=1.2 * DAY, ramp=6 * HOUR)
    samples = return_air(case)
    before = [v for t, v in samples if t < case.onset]
    after = [v for t, v in samples if t > case.onset + 6 * HOUR]
    def warm(values: list[float]) -> float:
        return sum(v > case.setpoint + 3.0 for v in values) / len(values)

    assert warm(before) < 0.02  # door openings at stops: a minute or two above the line
    assert warm(after) > 0.95


def test_a_stuck_sensor_repeats_one_value_and_a_heat_wave_keeps_the_band() -> None:
    stuck = return_air(FaultCase("s", "stuck_sensor", seed=1, onset=1.5 * DAY))
    assert len({v for t, v in stuck if t >= 1.5 * DAY}) == 1
    hot = FaultCase("h", "hot_weather", seed=2, onset=1.1 * DAY)
    assert not hot.faulty
    ambient = [float(v["Reefer.Ambient"]) for t, v in run(hot, start=0.0, days=2.0)  # type: ignore[arg-type]
               if t > 1.1 * DAY]
    assert min(ambient) > 14.0


def test_cases_are_reproducible_and_cover_every_fault() -> None:
    assert cases(3, seed=5) == cases(3, seed=5)
    assert sorted({c.fault for c in cases(1)}) == sorted(FAULTS)
