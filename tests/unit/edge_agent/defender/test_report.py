"""Device Defender reports: the documented document in long and short keys, JSON and CBOR."""

from __future__ import annotations

import json

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.defender.report import (
    SHORT_KEYS,
    Connection,
    CustomMetric,
    DeviceMetrics,
    Port,
    Report,
    decode,
    topic,
)

METRICS = DeviceMetrics(listening_tcp=[Port(22), Port(8883, "eth0")], listening_udp=[Port(5353)],
                        established=[Connection("10.0.0.2:8883", 41000, "eth0")],
                        bytes_in=1200, bytes_out=3400, packets_in=12, packets_out=30)
CUSTOM = {"spool_depth": CustomMetric("number", 17), "failed_writes": CustomMetric("number_list", [0, 2]),
          "link": CustomMetric("string_list", ["up"])}


def test_the_long_form_follows_the_documented_layout() -> None:
    document = Report(1_795_000_000_000, METRICS, CUSTOM).to_document()
    assert document["header"] == {"report_id": 1_795_000_000_000, "version": "1.0"}
    metrics = document["metrics"]
    assert metrics["listening_tcp_ports"] == {"ports": [{"port": 22}, {"port": 8883, "interface": "eth0"}],
                                              "total": 2}
    assert metrics["listening_udp_ports"]["total"] == 1
    assert metrics["network_stats"] == {"bytes_in": 1200, "bytes_out": 3400, "packets_in": 12, "packets_out": 30}
    assert metrics["tcp_connections"]["established_connections"] == {
        "connections": [{"remote_addr": "10.0.0.2:8883", "local_port": 41000, "local_interface": "eth0"}],
        "total": 1}
    assert document["custom_metrics"] == {"spool_depth": [{"number": 17}],
                                          "failed_writes": [{"number_list": [0, 2]}],
                                          "link": [{"string_list": ["up"]}]}


def test_the_short_form_uses_only_short_keys_outside_custom_metrics() -> None:
    document = Report(7, METRICS, CUSTOM).to_document(short=True)
    assert set(document) == {"hed", "met", "cmet"}
    assert document["hed"] == {"rid": 7, "v": "1.0"}
    assert document["met"]["tp"]["pts"][1] == {"pt": 8883, "if": "eth0"}
    assert document["met"]["tc"]["ec"]["cs"][0]["rad"] == "10.0.0.2:8883"
    assert document["cmet"]["spool_depth"] == [{"number": 17}], "custom metrics have no short keys"

    def keys(value: object) -> set[str]:
        if isinstance(value, dict):
            return set(value) | {k for v in value.values() for k in keys(v)}
        if isinstance(value, list):
            return {k for v in value for k in keys(v)}
        return set()

    assert not keys(document["met"]) & set(SHORT_KEYS), "no long key left in the metrics"


@pytest.mark.parametrize("fmt", ["json", "cbor"])
@pytest.mark.parametrize("short", [False, True])
def test_both_formats_and_key_forms_decode_to_the_long_form(fmt: str, short: bool) -> None:
    report = Report(42, METRICS, CUSTOM)
    payload = report.encode(fmt, short=short)  # type: ignore[arg-type]
    raw = cbor2.loads(payload) if fmt == "cbor" else json.loads(payload)
    assert ("hed" in raw) is short
    assert decode(payload, fmt) == report.to_document()  # type: ignore[arg-type]


@given(st.binary(max_size=64))
def test_garbage_is_a_value_error_never_a_crash(payload: bytes) -> None:
    for fmt in ("json", "cbor"):
        outcome: object
        try:
            outcome = decode(payload, fmt)  # type: ignore[arg-type]
        except ValueError as exc:
            outcome = str(exc)
        assert isinstance(outcome, dict) or (isinstance(outcome, str) and outcome), "a document or a reason"


def test_topics_are_the_reserved_ones() -> None:
    assert topic("reefer-0042", "json") == "$aws/things/reefer-0042/defender/metrics/json"
    assert topic("reefer-0042", "cbor", "rejected") == "$aws/things/reefer-0042/defender/metrics/cbor/rejected"
