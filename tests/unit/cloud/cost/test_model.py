"""The cost model: ColdHaul's fleet (8,000 trailers, 30 s reports, 5-minute bundles) batched and raw."""

from __future__ import annotations

import re
import subprocess
import sys

from cloud.cost.model import Fleet, PriceList, estimate

COLDHAUL = Fleet(devices=8000, report_every=30, bundle=300)
RAW = Fleet(devices=8000, report_every=30, bundle=0)


def per_day(fleet: Fleet) -> float:
    return fleet.messages_per_month / (730 / 24)


def test_coldhaul_raw_is_23_million_messages_a_day_and_batched_a_tenth() -> None:
    assert per_day(RAW) == 23_040_000
    assert per_day(COLDHAUL) == 2_304_000
    assert COLDHAUL.reports_per_message == 10


def test_batching_cuts_the_bill_where_it_is_per_message() -> None:
    prices = PriceList.load()
    batched, raw = estimate(COLDHAUL, prices), estimate(RAW, prices)
    by_item = {(b.service, b.item): (b.monthly, r.monthly) for b, r in zip(batched.lines, raw.lines, strict=True)}
    rules_batched, rules_raw = by_item[("IoT Core", "rules triggered")]
    assert rules_raw / rules_batched == 10 / batched.units_per_message, "per 5 KB unit, not per reading"
    assert by_item[("IoT Core", "messages: none charged through basic ingest")] == (0.0, 0.0)
    timestream_writes = by_item[("Timestream", "writes (1 KB units, batched)")]
    assert timestream_writes[0] == timestream_writes[1], "the same readings reach Timestream either way"
    assert batched.total < raw.total
    assert raw.units_per_message == 1
    assert batched.message_bytes > raw.message_bytes * 5


def test_every_price_is_dated_and_cited() -> None:
    prices = PriceList.load()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", prices.date)
    for price in prices.prices.values():
        assert price.price > 0
        assert price.source.startswith("https://aws.amazon.com/"), price.key
        assert price.checked


def test_the_command_prints_both_columns_with_references() -> None:
    result = subprocess.run([sys.executable, "-m", "edgeferry", "cloud", "cost", "--devices", "8000",
                             "--report-every", "30s", "--bundle", "5m"], capture_output=True, text=True,
                            timeout=120, check=True)
    assert re.search(r"messages per day\s+2,304,000\s+23,040,000", result.stdout)
    assert "[1] 0.08 USD per 1,000,000 connection-minute: https://aws.amazon.com/iot-core/pricing/" in result.stdout
    bad = subprocess.run([sys.executable, "-m", "edgeferry", "cloud", "cost", "--devices", "8000",
                          "--report-every", "soon", "--bundle", "5m"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
    assert bad.stderr == "edgeferry: error: 'soon' is not a duration (use e.g. 30s, 15m, 24h, 7d)\n"


def test_the_compact_form_puts_a_five_minute_bundle_in_one_unit() -> None:
    prices = PriceList.load()
    full = estimate(COLDHAUL, prices)
    compact = estimate(Fleet(devices=8000, report_every=30, bundle=300, compact=True), prices)
    assert (full.units_per_message, compact.units_per_message) == (2, 1)
    assert compact.total < full.total
