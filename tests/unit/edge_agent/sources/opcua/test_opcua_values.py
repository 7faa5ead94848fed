"""DataValue -> Reading conversion, the repeat filter and the bounded scan queue."""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

from asyncua import ua
from asyncua.ua.status_codes import StatusCodes

from edge_agent.envelope import Quality, Reading
from edge_agent.metrics import Counters
from edge_agent.sources.opcua.handover import RepeatFilter, ScanQueue
from edge_agent.sources.opcua.targets import NodeTarget
from edge_agent.sources.opcua.values import bad_reading, reading_from, to_value

TARGET = NodeTarget(point="flow", node="ns=2;s=Pump1.Flow", browse_path=None, sampling="subscribe")
SCALED = NodeTarget(point="temp", node="ns=2;s=T", browse_path=None, sampling="poll", scale=0.1, offset=-5.0)
T0 = datetime.datetime(2026, 11, 22, 1, 0, 0, tzinfo=datetime.UTC)
T0_MS = 1795309200000  # date -u -d @1795309200: Sun Nov 22 01:00:00 UTC 2026


def dv(value: object, code: int = 0, source: Any = T0) -> ua.DataValue:
    return ua.DataValue(ua.Variant(value), ua.StatusCode(ua.UInt32(code)), SourceTimestamp=source)


def test_good_value_keeps_source_time() -> None:
    r = reading_from("dev", TARGET, dv(12.5))
    assert r == Reading("dev", "flow", T0_MS, 12.5, Quality.GOOD, None)


def test_poll_time_overrides_source_time_and_naive_time_is_utc() -> None:
    assert reading_from("dev", TARGET, dv(1), t=42).t == 42
    naive = reading_from("dev", TARGET, dv(1, source=T0.replace(tzinfo=None)))
    assert naive.t == T0_MS


def test_bad_status_has_no_value_and_keeps_code() -> None:
    r = reading_from("dev", TARGET, dv(12.5, StatusCodes.BadSensorFailure))
    assert (r.v, r.q, r.code) == (None, Quality.BAD, StatusCodes.BadSensorFailure)


def test_uncertain_keeps_value() -> None:
    r = reading_from("dev", TARGET, dv(3.0, StatusCodes.UncertainLastUsableValue))
    assert (r.v, r.q, r.code) == (3.0, Quality.UNCERTAIN, StatusCodes.UncertainLastUsableValue)


def test_value_conversion_and_scaling() -> None:
    assert to_value(200, SCALED) == 200 * 0.1 - 5.0
    assert to_value(True, SCALED) is True
    assert to_value("Riverside", SCALED) == "Riverside"
    assert to_value(ua.LocalizedText("running"), TARGET) == "running"
    assert to_value(T0, TARGET) == T0_MS
    assert to_value(ua.MessageSecurityMode.Sign, TARGET) == 2
    assert to_value([1, 2], TARGET) == "[1, 2]"


def test_bad_reading() -> None:
    r = bad_reading("dev", TARGET, StatusCodes.BadNoMatch, 7)
    assert (r.t, r.v, r.q, r.code) == (7, None, Quality.BAD, StatusCodes.BadNoMatch)


def test_repeat_filter_within_a_session_drops_samples_no_newer_than_delivered() -> None:
    counters = Counters()
    f = RepeatFilter(counters)
    first = Reading("d", "flow", 100, 1.0)
    assert f.fresh([first]) == [first]
    assert f.fresh([first, Reading("d", "flow", 99, 5.0), Reading("d", "flow", 100, 2.0)]) == []
    newer = Reading("d", "flow", 101, 1.0)
    assert f.fresh([newer]) == [newer]
    assert f.fresh([Reading("d", "other", 1, 1.0)]) == [Reading("d", "other", 1, 1.0)]
    assert counters.get("duplicates") == 3


def test_repeat_filter_across_sessions_drops_only_the_exact_last_sample() -> None:
    counters = Counters()
    f = RepeatFilter(counters)
    last = Reading("d", "flow", 100, 1.0)
    f.fresh([Reading("d", "flow", 90, 0.5), last])
    f.new_session()
    assert f.fresh([last]) == [], "unchanged during the outage: the re-read repeats it"
    clock_went_back = Reading("d", "flow", 50, 3.0)
    assert f.fresh([clock_went_back]) == [clock_went_back]
    assert f.fresh([Reading("d", "flow", 50, 3.0)]) == []
    assert counters.get("duplicates") == 2


async def test_scan_queue_is_bounded_and_counts_drops() -> None:
    counters = Counters()
    q = ScanQueue(2, counters)
    scans = [[Reading("d", "p", i, i)] for i in range(3)]
    for scan in scans:
        q.offer(scan)
    q.offer([])
    assert counters.get("queue_drops") == 1
    q.close()
    got = [scan async for scan in q.scans()]
    assert got == scans[:2]


async def test_scan_queue_put_waits_for_room_and_close_ends_iteration() -> None:
    q = ScanQueue(1, Counters())
    await q.put([Reading("d", "p", 1, 1)])
    blocked = asyncio.create_task(q.put([Reading("d", "p", 2, 2)]))
    await asyncio.sleep(0.01)
    assert not blocked.done()
    received: list[Reading] = []

    async def consume() -> None:
        async for scan in q.scans():
            received.extend(scan)

    consumer = asyncio.create_task(consume())
    await asyncio.wait_for(blocked, 5)
    q.close()
    await asyncio.wait_for(consumer, 5)
    assert [r.t for r in received] == [1, 2]
