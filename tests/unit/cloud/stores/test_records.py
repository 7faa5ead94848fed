from __future__ import annotations

import json

from cloud.stores.records import MessageKey, encode_output, to_record
from tests.unit.cloud.batches import make_batch


def test_batch_is_keyed_by_device_epoch_seq_and_exploded_per_reading_and_window() -> None:
    batch = make_batch(seq=7, readings=5, windows=2)
    record = to_record(json.loads(batch.encode()), timestamp=0, device="ignored")
    assert record.key == MessageKey("pump-1", "e1", 7)
    assert [r.kind for r in record.rows].count("reading") == 5
    assert [r.kind for r in record.rows].count("window") == 2
    window = next(r for r in record.rows if r.kind == "window")
    assert (window.n, window.min, window.max, window.avg) == (10, 1.0, 5.0, 3.0)
    assert record.site == "plant1"
    assert record.latest["p0"] == (batch.end, batch.last["p0"])


def test_raw_object_is_keyed_by_hash_and_exploded_per_scalar_field() -> None:
    output = {"temp": 21.5, "on": True, "label": "x", "nested": {"a": 1}}
    record = to_record(output, timestamp=1000, device="dev")
    again = to_record(dict(output), timestamp=2000, device="dev")
    assert record.key == again.key
    assert record.key.epoch.startswith("sha256:")
    assert {r.point: r.value for r in record.rows} == {"temp": 21.5, "on": 1.0, "label": None}
    assert next(r.text for r in record.rows if r.point == "label") == "x"
    assert record.latest["temp"] == (1000, 21.5)


def test_other_values_carry_a_key_but_no_rows() -> None:
    binary = to_record(b"\x00\xffbinary", timestamp=0, device="d")
    assert binary.rows == ()
    assert binary.data == b"\x00\xffbinary"
    assert to_record([1, 2], timestamp=0, device="d").key != to_record([1, 3], timestamp=0, device="d").key


def test_output_bytes_are_compact_json_or_the_binary_itself() -> None:
    assert encode_output({"a": 1}) == b'{"a":1}'
    assert encode_output(b"raw") == b"raw"
