import dataclasses
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.envelope import (
    INT64_MAX,
    MAX_PAYLOAD_BYTES,
    SCHEMA,
    SCHEMA_COMPACT,
    Batch,
    BatchKind,
    EnvelopeError,
    NotAnEnvelope,
    Quality,
    Reading,
    TopicScheme,
    Window,
    decode_batch,
    metering_units,
    strip_basic_ingest,
)

names = st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=12)
values = st.one_of(st.integers(-(2**53), 2**53), st.floats(allow_nan=False, allow_infinity=False),
                   st.booleans(), st.text(max_size=20))


@given(device=names, seq=st.integers(1, 2**40), readings=st.lists(
    st.builds(Reading, device=st.just("d"), point=names, t=st.integers(0, 2**45), v=values,
              q=st.sampled_from(Quality), code=st.none() | st.integers(-10, 2**32)), max_size=20))
def test_batch_round_trips_through_the_wire(device: str, seq: int, readings: list[Reading]) -> None:
    readings = [Reading(device, r.point, r.t, r.v, r.q, r.code) for r in readings]
    batch = Batch(device=device, site="s", asset_type="a", epoch="e1", seq=seq, start=0, end=1,
                  readings=tuple(readings), last={r.point: r.v for r in readings})
    again = decode_batch(batch.encode())
    assert again == batch
    assert json.loads(batch.encode())["schema"] == SCHEMA


def test_windows_and_alarms_round_trip() -> None:
    w = Window(point="temp", t=60_000, w=60_000, n=3, min=1.0, max=3.0, avg=2.0, first=1.0, last=3.0)
    batch = Batch(device="d", site="s", asset_type="a", epoch="e", seq=7, start=60_000, end=120_000,
                  windows=(w,), last={"temp": 3.0}, kind=BatchKind.ALARM,
                  alarms=({"name": "hot", "t": 1},))
    assert decode_batch(batch.encode()) == batch


def test_non_finite_floats_become_null() -> None:
    batch = Batch(device="d", site="s", asset_type="a", epoch="e", seq=1, start=0, end=0,
                  readings=(Reading("d", "x", 0, float("nan")),), last={"x": float("inf")})
    obj = json.loads(batch.encode())
    assert obj["readings"][0]["v"] is None
    assert obj["last"]["x"] is None


@pytest.mark.parametrize("payload", [b"\xff", b"[]", b'{"schema": "other"}',
                                     b'{"schema": "edgeferry.batch/1", "device": "d"}'])
def test_malformed_envelopes_are_refused(payload: bytes) -> None:
    with pytest.raises(EnvelopeError):
        decode_batch(payload)


def test_metering_units_are_5kb_increments() -> None:
    assert metering_units(0) == 1
    assert metering_units(5120) == 1
    assert metering_units(5121) == 2


def test_topics_follow_the_design() -> None:
    topics = TopicScheme(site="plant", asset_type="pump", device="p1", rule="ingest")
    assert topics.telemetry == "$aws/rules/ingest/dt/plant/pump/p1/telemetry"
    assert topics.alarm == "$aws/rules/ingest/dt/plant/pump/p1/alarm"
    assert topics.commands == "cmd/p1/#"
    assert TopicScheme("plant", "pump", "p1").telemetry == "dt/plant/pump/p1/telemetry"
    assert strip_basic_ingest(topics.telemetry) == ("ingest", "dt/plant/pump/p1/telemetry")
    assert strip_basic_ingest("dt/a/b") == (None, "dt/a/b")


# -- the validator: what decode_batch accepts, both sides may store without another check ----------

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
                         st.floats(allow_nan=False), st.text(max_size=8))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=5), inner, max_size=3), max_leaves=8)


def mostly(valid: st.SearchStrategy[Any], invalid: st.SearchStrategy[Any] = json_values) -> st.SearchStrategy[Any]:
    """Nine times in ten a valid field, else anything JSON holds (so whole envelopes are often valid)."""
    return st.integers(0, 9).flatmap(lambda n: invalid if n == 0 else valid)


int64s = st.integers(-(2**63), INT64_MAX)
reading_objects = st.fixed_dictionaries(
    {"point": mostly(names), "t": mostly(int64s), "v": mostly(values)},
    optional={"q": mostly(st.integers(0, 2)), "code": mostly(st.integers(-10, 2**32))})
envelopes = st.fixed_dictionaries(
    {"schema": st.just(SCHEMA), "device": mostly(names), "site": mostly(names), "asset_type": mostly(names),
     "epoch": mostly(names), "seq": mostly(st.integers(0, INT64_MAX), st.integers(-(2**65), 2**65) | json_values),
     "start": mostly(int64s, st.integers(-(2**65), 2**65)), "end": mostly(int64s)},
    optional={"readings": mostly(st.lists(reading_objects, max_size=3)),
              "last": mostly(st.dictionaries(names, mostly(values), max_size=3)),
              "dropped": mostly(st.integers(0, INT64_MAX), st.integers(-5, 2**64)), "extra": json_values})


def _int64(value: object) -> bool:
    return type(value) is int and -(2**63) <= value <= INT64_MAX


@given(envelopes)
def test_whatever_is_accepted_is_in_range_and_round_trips(obj: dict[str, object]) -> None:
    try:
        batch = decode_batch(json.dumps(obj).encode())
    except EnvelopeError:
        return
    assert type(batch.seq) is int
    assert 0 <= batch.seq <= INT64_MAX
    assert _int64(batch.start)
    assert _int64(batch.end)
    assert type(batch.dropped) is int
    assert 0 <= batch.dropped <= INT64_MAX
    assert all(isinstance(s, str) and s for s in (batch.device, batch.site, batch.asset_type, batch.epoch))
    for r in batch.readings:
        assert _int64(r.t)
        assert r.v is None or isinstance(r.v, str | bool | float) or (
            isinstance(r.v, int) and -(2**63) <= r.v < 2**64)
    assert decode_batch(batch.encode()) == batch


integer_fields = st.sampled_from(["seq", "start", "end", "dropped"])
bad_integers = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.booleans(), st.none(),
                         st.text(max_size=5), st.integers(INT64_MAX + 1, 2**80), st.integers(-(2**80), -(2**63) - 1),
                         st.lists(st.integers(), max_size=2))


@given(integer_fields, bad_integers)
def test_an_integer_field_of_another_type_or_out_of_range_is_named(field: str, bad: object) -> None:
    obj = Batch(device="d", site="s", asset_type="a", epoch="e", seq=3, start=0, end=1).to_json()
    obj[field] = bad
    with pytest.raises(EnvelopeError, match=f"^{field}: an integer"):
        decode_batch(json.dumps(obj).encode())


@given(st.integers(-(2**63), -1))
def test_seq_is_never_negative(seq: int) -> None:
    obj = Batch(device="d", site="s", asset_type="a", epoch="e", seq=3, start=0, end=1).to_json()
    obj["seq"] = seq
    with pytest.raises(EnvelopeError, match=r"^seq: an integer from 0"):
        decode_batch(obj)


def test_a_payload_over_128_kb_is_refused_before_it_is_parsed() -> None:
    payload = b'{"schema":"edgeferry.batch/1",' + b" " * MAX_PAYLOAD_BYTES + b"}"
    with pytest.raises(EnvelopeError, match="over the 131072-byte limit"):
        decode_batch(payload)


def test_a_payload_that_is_no_envelope_says_so() -> None:
    for payload in (b"\xff", b"[1]", b'{"schema": "other"}'):
        with pytest.raises(NotAnEnvelope):
            decode_batch(payload)


def test_dropped_travels_only_when_there_is_something_to_declare() -> None:
    quiet = Batch(device="d", site="s", asset_type="a", epoch="e", seq=3, start=0, end=1)
    assert "dropped" not in json.loads(quiet.encode())
    loud = Batch(device="d", site="s", asset_type="a", epoch="e", seq=3, start=0, end=1, dropped=7)
    assert json.loads(loud.encode())["dropped"] == 7
    assert decode_batch(loud.encode()) == loud


@given(readings=st.lists(st.builds(Reading, device=st.just("d"), point=names, t=st.integers(0, 2**45), v=values,
                                   q=st.sampled_from(Quality), code=st.none() | st.integers(-10, 2**32)),
                         max_size=30))
def test_the_compact_form_carries_the_same_readings(readings: list[Reading]) -> None:
    start = min((r.t for r in readings), default=0)
    full = Batch(device="d", site="s", asset_type="a", epoch="e1", seq=3, start=start, end=start,
                 readings=tuple(readings), last={r.point: r.v for r in readings})
    compact = decode_batch(dataclasses.replace(full, compact=True).encode())
    assert compact.compact
    assert sorted(map(repr, compact.readings)) == sorted(map(repr, full.readings))
    assert dataclasses.replace(compact, readings=full.readings, compact=False) == full
    assert json.loads(compact.encode())["schema"] == SCHEMA_COMPACT


def test_compact_columns_hold_names_once_and_times_as_deltas() -> None:
    batch = Batch(device="d", site="s", asset_type="a", epoch="e", seq=1, start=1000, end=61_000, compact=True,
                  readings=(Reading("d", "temp", 1000, 4.5), Reading("d", "door", 1001, False, Quality.BAD, 7),
                            Reading("d", "temp", 31_000, 4.6), Reading("d", "door", 31_001, True)),
                  last={"temp": 4.6, "door": True})
    assert json.loads(batch.encode())["points"] == {
        "temp": {"t": [0, 30_000], "v": [4.5, 4.6]},
        "door": {"t": [1, 30_000], "v": [False, True], "q": [2, 0], "code": [7, None]}}


@pytest.mark.parametrize("points", [{"p": {"t": [0, 1], "v": [1]}}, {"p": {"t": [0]}}, {"p": 5}, []])
def test_malformed_compact_columns_are_refused(points: object) -> None:
    payload = {"schema": SCHEMA_COMPACT, "device": "d", "site": "s", "asset_type": "a", "epoch": "e", "seq": 1,
               "start": 0, "end": 0, "points": points, "last": {}}
    with pytest.raises(EnvelopeError):
        decode_batch(json.dumps(payload))
