import dataclasses
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.envelope import (
    SCHEMA,
    SCHEMA_COMPACT,
    Batch,
    BatchKind,
    EnvelopeError,
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
