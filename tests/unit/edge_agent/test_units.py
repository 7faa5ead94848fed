import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.units import parse_duration, parse_size


@pytest.mark.parametrize(("text", "seconds"), [("250ms", 0.25), ("30s", 30), ("5m", 300), ("1h", 3600),
                                               ("2d", 172800), (1.5, 1.5), ("10", 10)])
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(("text", "size"), [("5KB", 5120), ("1MiB", 1048576), ("128kb", 131072), (42, 42)])
def test_sizes(text: object, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("bad", ["soon", "-5s", True, "5 parsecs", ""])
def test_bad_durations_say_why(bad: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


@given(st.integers(0, 10**6))
def test_millisecond_durations_round_trip(ms: int) -> None:
    assert parse_duration(f"{ms}ms") == pytest.approx(ms / 1000)
