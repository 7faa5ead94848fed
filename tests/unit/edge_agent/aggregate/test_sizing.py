import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.aggregate.sizing import (
    envelope_overhead,
    last_entry_bytes,
    name_bytes,
    reading_bytes,
    value_bytes,
    window_bytes,
)
from edge_agent.envelope import Batch, Quality, Reading, Window, encode_json

values = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=30))
names = st.text(min_size=1, max_size=20)


@settings(deadline=None)
@given(values)
def test_value_bytes_is_the_size_of_the_encoded_value(v: object) -> None:
    assert value_bytes(v) == len(encode_json(v))  # type: ignore[arg-type]


@settings(deadline=None)
@given(point=names, t=st.integers(-(2**50), 2**50), v=values, q=st.sampled_from(Quality),
       code=st.none() | st.integers(-(2**33), 2**33))
def test_reading_bytes_is_the_encoded_size_plus_a_comma(point: str, t: int, v: object, q: Quality,
                                                          code: int | None) -> None:
    r = Reading("d", point, t, v, q, code)  # type: ignore[arg-type]
    assert reading_bytes(r, name_bytes(point)) == (len(encode_json(r.to_json())) + 1, value_bytes(r.v))


def test_window_and_last_entry_sizes() -> None:
    w = Window("temp", 60_000, 60_000, 0, math.nan, math.nan, math.nan, math.nan, math.nan, Quality.BAD)
    assert window_bytes(w) == len(encode_json(w.to_json())) + 1
    assert last_entry_bytes(name_bytes("temp"), value_bytes(21.5)) == len('"temp":21.5,')


def test_overhead_covers_the_envelope_around_the_content() -> None:
    batch = Batch("thing-1", "site1", "pump", "epoch-1", 2**40, 1_763_769_600_000, 1_763_769_660_000,
                  readings=(Reading("d", "x", 1, 2),), windows=(), last={})
    content = len(json.dumps([{"point": "x", "t": 1, "v": 2, "q": 0}], separators=(",", ":")))
    assert envelope_overhead("thing-1", "site1", "pump", "epoch-1") + content >= len(batch.encode())
