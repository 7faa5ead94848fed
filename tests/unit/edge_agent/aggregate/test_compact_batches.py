"""Batches in the compact form (edgeferry.batch/2): filled by the same byte accounting, never over
the limit, nothing lost, and a reefer's 5 minutes in one 5 KB metering unit."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_agent.aggregate import byte_limit
from edge_agent.aggregate.batcher import Batcher
from edge_agent.aggregate.config import BatchingConfig
from edge_agent.aggregate.outbox import EnvelopeHeader, Outbox
from edge_agent.envelope import SCHEMA_COMPACT, Batch, Quality, Reading, decode_batch, metering_units
from edge_agent.metrics import Counters

HEADER = EnvelopeHeader("reefer-0001", "fleet-eu", "reefer", "3f9c2a7e1b5d4c60", compact=True)
T0 = 1_763_769_600_000
REEFER = ["reefer_return_air", "reefer_supply_air", "reefer_ambient", "reefer_fuel_level", "reefer_latitude",
          "reefer_longitude", "reefer_speed", "reefer_engine_hours", "reefer_alarm_word", "reefer_setpoint",
          "reefer_container_id", "reefer_compressor", "reefer_door_open"]


def make(**batching: object) -> tuple[Batcher, Outbox, Counters]:
    outbox = Outbox(HEADER, 1)
    counters = Counters()
    return Batcher(outbox, BatchingConfig.model_validate(batching), counters), outbox, counters


def reefer_poll(k: int) -> list[Reading]:
    """One 30 s poll of the reefer's 13 points, with values shaped like the controller's."""
    values: list[object] = [-18.25 + k * 0.01, -19.5, 21.4, 63.2, 53.5487213, 9.9901237, 72.3, 10234,
                            0, -18.0, "MSKU12", True, False]
    return [Reading("reefer-0001", name, T0 + k * 30_000 + i, v) for i, (name, v) in  # type: ignore[misc]
            enumerate(zip(REEFER, values, strict=True))]


def test_a_reefers_five_minutes_fit_one_metering_unit() -> None:
    batcher, outbox, counters = make(max_bytes="5KB", max_age="5m")
    for k in range(10):
        for r in reefer_poll(k):
            batcher.add_reading(r, now=k * 30.0)
    batcher.expire(300.0)
    [batch] = outbox.take()
    payload = batch.encode()
    topic = b"$aws/rules/edgeferry_telemetry/dt/fleet-eu/reefer/reefer-0001/telemetry"
    assert metering_units(len(payload) + len(topic)) == 1, "payload and topic are metered together"
    assert decode_batch(payload).to_json()["schema"] == SCHEMA_COMPACT
    full = Batch(**{**{f: getattr(batch, f) for f in batch.__dataclass_fields__}, "compact": False})
    assert len(full.encode()) > 2 * len(payload)
    assert counters.get("batch_splits") == 0


def test_compact_batches_fill_but_never_cross_the_byte_limit() -> None:
    batcher, outbox, counters = make(max_bytes="5KB", max_readings=100_000, max_age="1h")
    for k in range(200):
        for r in reefer_poll(k):
            batcher.add_reading(r, now=0.0)
    batcher.close()
    sizes = [len(b.encode()) for b in outbox.take()]
    assert max(sizes) <= 5 * 1024
    assert min(sizes[:-1]) > 5 * 1024 - 200, "a full batch misses its limit by less than a column"
    assert counters.get("batch_splits") == 0, "the running estimate is an upper bound"


value = st.one_of(st.floats(), st.integers(-(2**63), 2**64 - 1), st.booleans(), st.none(), st.text(max_size=40))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=st.lists(st.tuples(st.sampled_from(["a", "b", "pump.flow", "ünïcode", "x" * 100]), value,
                                st.integers(-(2**45), 2**45), st.sampled_from(Quality),
                                st.none() | st.integers(-999, 2**32)), max_size=150),
       max_bytes=st.integers(512, 12 * 1024), max_readings=st.integers(1, 200))
def test_every_compact_batch_fits_and_nothing_is_lost(
        items: list[tuple[str, object, int, Quality, int | None]], max_bytes: int, max_readings: int) -> None:
    batcher, outbox, _ = make(max_bytes=max_bytes, max_readings=max_readings)
    limit = byte_limit(BatchingConfig(max_bytes=max_bytes))
    readings = [Reading("reefer-0001", p, t, v, q, code) for p, v, t, q, code in items]  # type: ignore[arg-type]
    for r in readings:
        batcher.add_reading(r, now=0.0)
    batcher.close()
    batches = outbox.take()
    assert sorted(repr(r) for b in batches for r in b.readings) == sorted(map(repr, readings))
    for b in batches:
        payload = b.encode()
        assert len(payload) <= limit or len(b.readings) == 1
        assert decode_batch(payload).encode() == payload, "the cloud reads back what was sent"
