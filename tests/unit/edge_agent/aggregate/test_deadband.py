import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.aggregate.deadband import DeadbandFilter, exceeds_band
from edge_agent.envelope import Quality, Reading
from edge_agent.metrics import Counters
from edge_agent.sources.points import Deadband

T0 = 1_763_769_600_000


def make(**band: float) -> tuple[DeadbandFilter, Counters]:
    counters = Counters()
    return DeadbandFilter({"p": Deadband.model_validate(band)}, None, counters), counters


def offer(f: DeadbandFilter, values: list[object], now: float = 0.0) -> list[bool]:
    return [f.offer(Reading("d", "p", T0 + i, v), now) for i, v in enumerate(values)]  # type: ignore[arg-type]


def test_absolute_band_compares_with_the_last_reported_value() -> None:
    f, counters = make(absolute=1.0)
    assert offer(f, [10.0, 10.6, 11.0, 11.1, 9.95, 8.9]) == [True, False, False, True, True, True]
    assert counters.get("deadband_suppressed") == 2


def test_slow_drift_is_reported_once_it_adds_up_to_a_band() -> None:
    f, _ = make(absolute=1.0)
    assert offer(f, [0.0, 0.4, 0.8, 1.2, 1.6]) == [True, False, False, True, False]


def test_percent_band_is_relative_to_the_reported_magnitude() -> None:
    f, _ = make(percent=10)
    assert offer(f, [200.0, 219.0, 221.0, 200.0, 198.0]) == [True, False, True, False, True]


def test_with_both_bands_the_wider_one_applies() -> None:
    f, _ = make(absolute=0.5, percent=10)
    assert offer(f, [0.0, 0.4, 0.6, 100.0, 105.0, 111.0]) == [True, False, True, True, False, True]


def test_quality_changes_and_non_numeric_changes_are_always_reported() -> None:
    f, _ = make(absolute=100)
    readings = [Reading("d", "p", T0, 1.0), Reading("d", "p", T0 + 1, 1.0, Quality.BAD, 4),
                Reading("d", "p", T0 + 2, 1.0, Quality.BAD, 4), Reading("d", "p", T0 + 3, 1.0)]
    assert [f.offer(r, 0.0) for r in readings] == [True, True, False, True]
    g, _ = make(absolute=100)
    assert offer(g, [True, True, False, "a", "a", "b", 1]) == [True, False, True, True, False, True, True]


def test_non_finite_values_are_reported_when_they_change() -> None:
    assert exceeds_band(math.nan, 1.0, Deadband(absolute=5))
    assert not exceeds_band(math.nan, math.nan, Deadband(absolute=5))
    assert not exceeds_band(math.inf, math.inf, Deadband(absolute=5))
    assert exceeds_band(1.0, math.inf, Deadband(absolute=5))


def test_heartbeat_sends_the_latest_reading_after_a_quiet_interval() -> None:
    f, counters = make(absolute=1.0, heartbeat=60)
    f.offer(Reading("d", "p", T0, 10.0), now=0.0)
    f.offer(Reading("d", "p", T0 + 30_000, 10.2), now=30.0)
    assert f.deadline() == 60.0
    assert f.heartbeats_due(T0 + 59_000, 59.0) == []
    assert f.heartbeats_due(T0 + 60_000, 60.0) == [Reading("d", "p", T0 + 30_000, 10.2)]
    assert counters.get("heartbeats") == 1
    assert f.deadline() == 120.0


def test_heartbeat_restamps_a_value_that_has_not_been_read_again() -> None:
    f, _ = make(absolute=1.0, heartbeat=60)
    f.offer(Reading("d", "p", T0, 10.0, Quality.UNCERTAIN, 7), now=0.0)
    assert f.heartbeats_due(T0 + 60_000, 60.0) == [Reading("d", "p", T0 + 60_000, 10.0, Quality.UNCERTAIN, 7)]


def test_a_report_postpones_the_heartbeat() -> None:
    f, _ = make(absolute=1.0, heartbeat=60)
    f.offer(Reading("d", "p", T0, 10.0), now=0.0)
    f.offer(Reading("d", "p", T0 + 50_000, 20.0), now=50.0)
    assert f.heartbeats_due(T0 + 60_000, 60.0) == []
    assert f.deadline() == 110.0


def test_heartbeat_zero_turns_heartbeats_off() -> None:
    f, _ = make(absolute=1.0, heartbeat=0)
    f.offer(Reading("d", "p", T0, 10.0), now=0.0)
    assert f.deadline() is None
    assert f.heartbeats_due(T0 + 10**9, 1e9) == []


def test_a_point_without_a_band_is_refused() -> None:
    f = DeadbandFilter({}, None, Counters())
    with pytest.raises(ValueError, match="no deadband"):
        f.offer(Reading("d", "x", T0, 1.0), 0.0)


@settings(deadline=None)
@given(absolute=st.none() | st.floats(0, 10), percent=st.none() | st.floats(0, 50),
       values=st.lists(st.floats(-1000, 1000), min_size=1, max_size=60))
def test_no_change_smaller_than_the_band_is_ever_reported(absolute: float | None, percent: float | None,
                                                          values: list[float]) -> None:
    if absolute is None and percent is None:
        absolute = 1.0
    band = Deadband(absolute=absolute, percent=percent, heartbeat=0)
    f = DeadbandFilter({"p": band}, None, Counters())

    def width(reference: float) -> float:
        return max(absolute or 0.0, (percent or 0.0) / 100 * abs(reference))

    sent: float | None = None
    for i, v in enumerate(values):
        if f.offer(Reading("d", "p", T0 + i, v), 0.0):
            assert sent is None or abs(v - sent) > width(sent), "a change within the band was reported"
            sent = v
        else:
            assert sent is not None
            assert abs(v - sent) <= width(sent), "a change beyond the band was lost"


def test_a_new_status_code_is_a_change_like_a_new_value() -> None:
    f, _ = make(absolute=1.0)
    bad = [Reading("d", "p", T0 + i, None, Quality.BAD, code) for i, code in enumerate([2, 2, 4, 4])]
    assert [f.offer(r, 0.0) for r in bad] == [True, False, True, False]


def test_a_forgotten_point_has_no_heartbeat_and_reports_its_next_reading() -> None:
    f, _ = make(absolute=1.0, heartbeat=60)
    f.offer(Reading("d", "p", T0, 10.0), now=0.0)
    f.forget(["p"])
    assert f.heartbeats_due(T0 + 600_000, 600.0) == []
    assert f.offer(Reading("d", "p", T0 + 601_000, 10.1), now=601.0)  # within the band: reported afresh
    assert f.heartbeats_due(T0 + 660_000, 660.0) == []
    assert f.heartbeats_due(T0 + 661_000, 661.0) == [Reading("d", "p", T0 + 661_000, 10.1)]
    assert len(f._heartbeats) == 1, "one heartbeat entry per point, however often it is forgotten"
