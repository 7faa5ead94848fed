import math

import pytest

from edge_agent.aggregate.windows import WindowBank
from edge_agent.envelope import Quality, Reading, Window
from edge_agent.metrics import Counters

W = 10_000
T0 = 1_763_769_600_000


@pytest.fixture
def counters() -> Counters:
    return Counters()


@pytest.fixture
def bank(counters: Counters) -> WindowBank:
    bank = WindowBank(W, 0, counters)
    bank.close_due(T0, 0.0)
    return bank


def test_a_reading_at_a_boundary_opens_the_next_window(bank: WindowBank) -> None:
    assert not bank.add(Reading("d", "p", T0 + W - 1, 1.0), 0.0)
    assert not bank.add(Reading("d", "p", T0 + W, 2.0), 0.0)
    assert bank.close_due(T0 + W - 1, 0.0) == []
    [first] = bank.close_due(T0 + W, 0.0)
    assert (first.t, first.w, first.n, first.last) == (T0, W, 1, 1.0)
    assert bank.close_due(T0 + 2 * W - 1, 0.0) == []
    [second] = bank.close_due(T0 + 2 * W, 0.0)
    assert (second.t, second.n, second.first) == (T0 + W, 1, 2.0)


def test_window_statistics_follow_reading_time_not_arrival(bank: WindowBank) -> None:
    for t, v in [(T0 + 500, 4), (T0 + 100, 7), (T0 + 900, 1.5), (T0 + 300, 2)]:
        bank.add(Reading("d", "p", t, v), 0.0)
    [w] = bank.close_due(T0 + W, 0.0)
    assert w == Window("p", T0, W, 4, 1.5, 7, (4 + 7 + 1.5 + 2) / 4, 7, 1.5, Quality.GOOD)


def test_booleans_count_as_zero_and_one_but_keep_their_values(bank: WindowBank) -> None:
    for i, v in enumerate([False, True, True, False]):
        bank.add(Reading("d", "door", T0 + i, v), 0.0)
    [w] = bank.close_due(T0 + W, 0.0)
    assert (w.n, w.min, w.max, w.avg, w.first, w.last) == (4, 0, 1, 0.5, False, False)


def test_uncertain_readings_are_averaged_and_mark_the_window(bank: WindowBank) -> None:
    bank.add(Reading("d", "p", T0, 1.0), 0.0)
    bank.add(Reading("d", "p", T0 + 1, 3.0, Quality.UNCERTAIN), 0.0)
    [w] = bank.close_due(T0 + W, 0.0)
    assert (w.n, w.avg, w.q) == (2, 2.0, Quality.UNCERTAIN)


def test_bad_readings_travel_raw_and_are_never_averaged(bank: WindowBank, counters: Counters) -> None:
    assert not bank.add(Reading("d", "p", T0, 1.0), 0.0)
    assert bank.add(Reading("d", "p", T0 + 1, 999.0, Quality.BAD, 4), 0.0)
    [w] = bank.close_due(T0 + W, 0.0)
    assert (w.n, w.max, w.q) == (1, 1.0, Quality.GOOD)
    assert counters.get("bad_readings") == 1


def test_quality_given_as_a_plain_integer_is_understood(bank: WindowBank) -> None:
    assert bank.add(Reading("d", "p", T0, 5.0, 2), 0.0)  # type: ignore[arg-type]
    assert not bank.add(Reading("d", "p", T0 + 1, 1.0, 1), 0.0)  # type: ignore[arg-type]
    [w] = bank.close_due(T0 + W, 0.0)
    assert (w.n, w.max, w.q) == (1, 1.0, Quality.UNCERTAIN)


def test_a_window_of_only_bad_readings_is_emitted_bad_and_empty(bank: WindowBank) -> None:
    assert bank.add(Reading("d", "p", T0 + 5, None, Quality.BAD, 0x80000000), 0.0)
    [w] = bank.close_due(T0 + W, 0.0)
    assert (w.n, w.q) == (0, Quality.BAD)
    assert all(math.isnan(x) for x in (w.min, w.max, w.avg, w.first, w.last))  # type: ignore[arg-type]


@pytest.mark.parametrize("v", ["running", None, math.nan, math.inf])
def test_values_that_cannot_be_aggregated_travel_raw(bank: WindowBank, counters: Counters, v: object) -> None:
    assert bank.add(Reading("d", "p", T0, v), 0.0)  # type: ignore[arg-type]
    assert counters.get("not_aggregable") == 1
    assert bank.close_due(T0 + W, 0.0) == []


def test_lateness_holds_a_window_open_past_its_end(counters: Counters) -> None:
    bank = WindowBank(W, 2000, counters)
    bank.close_due(T0, 0.0)
    bank.add(Reading("d", "p", T0, 1), 0.0)
    assert bank.close_due(T0 + W + 1999, 1.0) == []
    assert not bank.add(Reading("d", "p", T0 + W - 1, 2), 1.0)
    [w] = bank.close_due(T0 + W + 2000, 1.0)
    assert w.n == 2


def test_a_reading_for_a_closed_window_travels_raw_once(bank: WindowBank, counters: Counters) -> None:
    bank.add(Reading("d", "p", T0, 1), 0.0)
    assert len(bank.close_due(T0 + W, 0.0)) == 1
    assert bank.add(Reading("d", "p", T0 + 5, 2), 0.0)
    assert counters.get("late_readings") == 1
    assert bank.close_due(T0 + 10 * W, 0.0) == []


def test_readings_stamped_far_ahead_of_the_wall_clock_are_not_windowed(bank: WindowBank,
                                                                       counters: Counters) -> None:
    assert not bank.add(Reading("d", "p", T0 + 2 * W - 1, 1), 0.0)
    assert bank.add(Reading("d", "p", T0 + 2 * W, 1), 0.0)
    assert counters.get("future_readings") == 1


def test_a_backward_wall_step_cannot_hold_a_window_open(bank: WindowBank) -> None:
    bank.add(Reading("d", "p", T0 + 100, 1), now=50.0)
    wall_after_step = T0 - 3_600_000
    assert bank.close_due(wall_after_step, 50.0 + 2 * W / 1000 - 0.001) == []
    assert bank.deadline(wall_after_step, 55.0) == pytest.approx(50.0 + 2 * W / 1000)
    [w] = bank.close_due(wall_after_step, 50.0 + 2 * W / 1000)
    assert w.t == T0


def test_deadline_follows_the_wall_clock(bank: WindowBank) -> None:
    assert bank.deadline(T0, 0.0) is None
    bank.add(Reading("d", "p", T0 + 2500, 1), now=7.0)
    assert bank.deadline(T0 + 2500, 7.0) == pytest.approx(7.0 + 7.5)
    overdue = bank.deadline(T0 + W + 5, 8.0)
    assert overdue is not None
    assert overdue <= 8.0


def test_close_all_emits_partial_windows_once(bank: WindowBank) -> None:
    bank.add(Reading("d", "p", T0, 1), 0.0)
    bank.add(Reading("d", "q", T0 + W, 2), 0.0)
    assert [(w.point, w.t) for w in bank.close_all()] == [("p", T0), ("q", T0 + W)]
    assert bank.close_all() == []
    assert bank.add(Reading("d", "q", T0 + W + 1, 3), 0.0)
