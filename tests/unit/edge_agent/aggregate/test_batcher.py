import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_agent.aggregate import VALUE_NOT_ENCODABLE, VALUE_TOO_LARGE, byte_limit
from edge_agent.aggregate import batcher as batcher_module
from edge_agent.aggregate.batcher import Batcher
from edge_agent.aggregate.config import BatchingConfig
from edge_agent.aggregate.outbox import EnvelopeHeader, Outbox
from edge_agent.envelope import MAX_PAYLOAD_BYTES, Batch, Quality, Reading, Window
from edge_agent.metrics import Counters

HEADER = EnvelopeHeader("thing-1", "site1", "pump", "epoch-1")
T0 = 1_763_769_600_000


def make(next_seq: int = 1, **batching: object) -> tuple[Batcher, Outbox, Counters]:
    outbox = Outbox(HEADER, next_seq)
    counters = Counters()
    return Batcher(outbox, BatchingConfig.model_validate(batching), counters), outbox, counters


@pytest.mark.parametrize(("max_bytes", "fill", "limit"), [
    (5 * 1024, True, 5 * 1024), (12 * 1024, True, 10 * 1024), (12 * 1024, False, 12 * 1024),
    (2048, True, 2048), (128 * 1024, True, 125 * 1024),
])
def test_byte_limit_fills_whole_metering_units(max_bytes: int, fill: bool, limit: int) -> None:
    assert byte_limit(BatchingConfig(max_bytes=max_bytes, fill_metering_units=fill)) == limit


def test_batches_close_on_max_readings_in_seq_order() -> None:
    batcher, outbox, counters = make(next_seq=41, max_readings=3)
    for i in range(7):
        batcher.add_reading(Reading("d", f"p{i % 2}", T0 + i, i), now=0.0)
    batches = outbox.take()
    assert [b.seq for b in batches] == [41, 42]
    assert [len(b.readings) for b in batches] == [3, 3]
    assert batches[0].last == {"p0": 2, "p1": 1}
    assert (batches[0].start, batches[0].end) == (T0, T0 + 2)
    batcher.close()
    assert [b.seq for b in outbox.take()] == [43]
    assert counters.get("readings_out") == 7


def test_max_age_counts_from_the_first_reading_on_the_monotonic_clock() -> None:
    batcher, outbox, _ = make(max_age=10)
    assert batcher.deadline() is None
    batcher.add_reading(Reading("d", "p", T0, 1), now=100.0)
    batcher.add_reading(Reading("d", "p", T0 + 5000, 2), now=105.0)
    assert batcher.deadline() == 110.0
    batcher.expire(109.9)
    assert outbox.take() == []
    batcher.expire(110.0)
    assert [len(b.readings) for b in outbox.take()] == [2]
    assert batcher.deadline() is None


def test_batches_fill_but_never_cross_the_byte_limit() -> None:
    batcher, outbox, _ = make(max_bytes="5KB", max_readings=100_000)
    for i in range(2000):
        batcher.add_reading(Reading("d", f"line1.pump{i % 300:04d}.flow", T0 + i, i * 1.000001), now=0.0)
    batcher.close()
    sizes = [len(b.encode()) for b in outbox.take()]
    assert max(sizes) <= 5 * 1024
    assert min(sizes[:-1]) > 5 * 1024 - 200, "a full batch misses its limit by less than one reading"


def test_windows_are_batched_with_their_end_as_the_batch_end() -> None:
    batcher, outbox, counters = make()
    w = Window("temp", T0, 60_000, 3, 1.0, 3.0, 2.0, 1.0, 3.0)
    batcher.add_reading(Reading("d", "temp", T0 + 70_000, 4.0), now=0.0)
    batcher.add_window(w, now=0.0)
    batcher.close()
    [batch] = outbox.take()
    assert batch.windows == (w,)
    assert (batch.start, batch.end) == (T0, T0 + 70_000)
    assert batch.last == {"temp": 4.0}
    assert counters.get("windows_out") == 1


def test_a_reading_larger_than_the_limit_travels_alone() -> None:
    batcher, outbox, _ = make(max_bytes=1024)
    batcher.add_reading(Reading("d", "a", T0, 1), now=0.0)
    batcher.add_reading(Reading("d", "label", T0, "x" * 3000), now=0.0)
    batcher.add_reading(Reading("d", "a", T0 + 1, 2), now=0.0)
    batcher.close()
    assert [[r.point for r in b.readings] for b in outbox.take()] == [["a"], ["label"], ["a"]]


def test_a_value_too_large_for_any_envelope_becomes_a_bad_reading() -> None:
    batcher, outbox, counters = make()
    batcher.add_reading(Reading("d", "blob", T0, "x" * MAX_PAYLOAD_BYTES), now=0.0)
    batcher.close()
    [batch] = outbox.take()
    assert batch.readings == (Reading("d", "blob", T0, None, Quality.BAD, VALUE_TOO_LARGE),)
    assert len(batch.encode()) <= MAX_PAYLOAD_BYTES
    assert counters.get("values_too_large") == 1


def test_a_value_json_cannot_hold_becomes_a_bad_reading() -> None:
    batcher, outbox, counters = make()
    batcher.add_reading(Reading("d", "raw_bytes", T0, b"\x00\x01"), now=0.0)  # type: ignore[arg-type]
    batcher.close()
    [batch] = outbox.take()
    assert batch.readings == (Reading("d", "raw_bytes", T0, None, Quality.BAD, VALUE_NOT_ENCODABLE),)
    assert counters.get("values_not_encodable") == 1


def test_a_batch_whose_estimate_was_off_is_split(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batcher_module, "reading_bytes", lambda r, n: (1, 1))
    batcher, outbox, counters = make(max_bytes=1024, max_readings=500)
    readings = [Reading("d", f"point{i}", T0 + i, i / 7) for i in range(100)]
    for r in readings:
        batcher.add_reading(r, now=0.0)
    batcher.close()
    batches = outbox.take()
    assert counters.get("batch_splits") > 0
    assert all(len(b.encode()) <= 1024 for b in batches)
    assert [b.seq for b in batches] == list(range(1, len(batches) + 1))
    assert [r for b in batches for r in b.readings] == readings


def test_outbox_refuses_a_draft_that_is_not_next() -> None:
    outbox = Outbox(HEADER, 5)
    stale = outbox.draft(start=0, end=0, last={})
    outbox.post(stale)
    with pytest.raises(ValueError, match="not the next seq"):
        outbox.post(stale)
    with pytest.raises(ValueError, match="start at 1"):
        Outbox(HEADER, 0)


value = st.one_of(st.floats(), st.integers(-(2**64), 2**64), st.booleans(), st.none(),
                  st.text(max_size=40), st.text(min_size=500, max_size=3000))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=st.lists(st.tuples(st.sampled_from(["a", "b", "pump.flow", "ünïcode", "x" * 100]), value,
                                st.integers(-(2**45), 2**45), st.none() | st.integers(-999, 2**32)),
                      max_size=120),
       max_bytes=st.integers(512, 12 * 1024), max_readings=st.integers(1, 200), fill=st.booleans())
def test_every_batch_fits_and_nothing_is_lost(items: list[tuple[str, object, int, int | None]],
                                              max_bytes: int, max_readings: int, fill: bool) -> None:
    batcher, outbox, _ = make(next_seq=7, max_bytes=max_bytes, max_readings=max_readings,
                              fill_metering_units=fill)
    limit = byte_limit(BatchingConfig(max_bytes=max_bytes, fill_metering_units=fill))
    readings = [Reading("d", p, t, v, Quality.GOOD, code) for p, v, t, code in items]  # type: ignore[arg-type]
    for r in readings:
        batcher.add_reading(r, now=0.0)
    batcher.close()
    batches: list[Batch] = outbox.take()
    assert [b.seq for b in batches] == list(range(7, 7 + len(batches)))
    assert [r for b in batches for r in b.readings] == readings
    for b in batches:
        size = len(b.encode())
        assert size <= MAX_PAYLOAD_BYTES
        assert size <= limit or len(b.readings) == 1
        assert 1 <= len(b.readings) <= max_readings
