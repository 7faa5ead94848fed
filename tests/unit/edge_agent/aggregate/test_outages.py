"""A dead device or a bad point costs one record per change (and heartbeat), not one per poll."""

from typing import Any

import pytest

from edge_agent.aggregate import Aggregator, PointMode
from edge_agent.aggregate.outages import state_point
from edge_agent.clock import ManualClock
from edge_agent.config import parse_config
from edge_agent.envelope import Batch, Quality, Reading
from edge_agent.errors import ConfigError
from edge_agent.sources.opcua.status import NO_COMMUNICATION
from edge_agent.sources.points import Deadband
from edge_agent.sources.status import DISCONNECTED, OPCUA_BAD_NO_COMMUNICATION, TIMEOUT

from .conftest import Build

MODES = {"flow": PointMode("raw"), "level": PointMode("window"),
         "setpoint": PointMode("deadband", Deadband(absolute=1, heartbeat=60))}


def _scan(clock: ManualClock, code: int | None = None, *, flow: float = 1.0) -> list[Reading]:
    t = clock.wall_ms()
    if code is not None:
        return [Reading("plc", p, t, None, Quality.BAD, code) for p in MODES]
    return [Reading("plc", "flow", t, flow), Reading("plc", "level", t, 2.0), Reading("plc", "setpoint", t, 5.0)]


def _run(agg: Aggregator, clock: ManualClock, seconds: int, code: int | None = None) -> list[Batch]:
    out: list[Batch] = []
    for _ in range(seconds):
        out += agg.add(_scan(clock, code), clock.monotonic())
        clock.advance(1)
        out += agg.tick(clock.monotonic())
    return out


def _readings(batches: list[Batch]) -> list[Reading]:
    return [r for b in batches for r in b.readings]


@pytest.fixture
def agg(build: Build) -> Aggregator:
    return build(MODES, aggregation={"window": "60s", "bad_heartbeat": "5m"}, batching={"max_age": "10s"})


def test_a_device_down_for_an_hour_is_one_record_and_a_heartbeat(agg: Aggregator, clock: ManualClock) -> None:
    _run(agg, clock, 30)
    down = _readings(_run(agg, clock, 3600, DISCONNECTED))
    assert {r.point for r in down} == {"plc:state"}, "no per-point readings while the device is down"
    assert [(r.v, r.q, r.code) for r in down] == [("down", Quality.BAD, DISCONNECTED)] * 12  # at 0, 5m, ... 55m
    assert down[1].t - down[0].t == 300_000
    assert agg.counters.get("down_suppressed") == 3600 * len(MODES)


def test_a_device_back_says_up_first_and_every_point_reports_afresh(agg: Aggregator, clock: ManualClock) -> None:
    _run(agg, clock, 30)
    _run(agg, clock, 600, DISCONNECTED)
    back = _readings(_run(agg, clock, 1) + agg.flush(clock.monotonic()))
    assert [(r.point, r.v, r.q) for r in back] == [
        ("plc:state", "up", Quality.GOOD), ("flow", 1.0, Quality.GOOD), ("setpoint", 5.0, Quality.GOOD)]
    later = _readings(_run(agg, clock, 120) + agg.flush(clock.monotonic()))
    assert "plc:state" not in {r.point for r in later}


def test_a_plc_that_does_not_answer_is_down_however_its_faults_alternate(agg: Aggregator,
                                                                        clock: ManualClock) -> None:
    """A PLC that accepts connections but never answers: the first request times out, the client
    drops the connection, the rest of the poll is disconnected; the next poll reconnects."""
    out: list[Batch] = []
    for i in range(900):
        t = clock.wall_ms()
        codes = [TIMEOUT, DISCONNECTED, DISCONNECTED] if i % 2 else [TIMEOUT] * 3
        if i % 7 == 0:
            codes = [DISCONNECTED] * 3  # a reconnect attempt failed
        scan = [Reading("plc", p, t, None, Quality.BAD, c) for p, c in zip(MODES, codes, strict=True)]
        out += agg.add(scan, clock.monotonic())
        clock.advance(1)
    records = _readings(out + agg.flush(clock.monotonic()))
    assert [(r.point, r.v) for r in records] == [("plc:state", "down")] * 3  # at 0, 5 and 10 minutes
    assert [r.code for r in records] == [DISCONNECTED, TIMEOUT, TIMEOUT]  # the cause at polls 0, 300, 600


def test_no_heartbeat_of_a_stale_value_while_the_device_is_down(agg: Aggregator, clock: ManualClock) -> None:
    _run(agg, clock, 5)
    since = clock.wall_ms()
    down = [r for r in _readings(_run(agg, clock, 600, DISCONNECTED)) if r.t >= since]
    assert {r.point for r in down} == {"plc:state"}  # setpoint's deadband heartbeat is 60 s


def test_a_bad_point_is_reported_on_change_and_heartbeat(build: Build, clock: ManualClock) -> None:
    agg = build({"a": PointMode("raw"), "b": PointMode("window")},
                aggregation={"window": "60s", "bad_heartbeat": "100s"})
    out: list[Batch] = []
    for i in range(250):
        t = clock.wall_ms()
        code = 2 if i < 120 else 4 if i < 200 else None
        a = Reading("plc", "a", t, None, Quality.BAD, code) if code else Reading("plc", "a", t, float(i))
        out += agg.add([a, Reading("plc", "b", t, None, Quality.BAD, 2)], clock.monotonic())
        clock.advance(1)
    out += agg.flush(clock.monotonic())
    bad_a = [(r.t, r.code) for r in _readings(out) if r.point == "a" and r.q is Quality.BAD]
    t0 = out[0].start
    assert bad_a == [(t0, 2), (t0 + 100_000, 2), (t0 + 120_000, 4)]
    assert [r.v for r in _readings(out) if r.point == "a" and r.q is Quality.GOOD] == [float(i) for i in range(200, 250)]
    assert [r.t - t0 for r in _readings(out) if r.point == "b"] == [0, 100_000, 200_000]
    assert "plc:state" not in {r.point for r in _readings(out)}  # one bad point is not a dead device


def test_a_point_bad_again_after_recovering_is_reported_at_once(build: Build, clock: ManualClock) -> None:
    agg = build({"a": PointMode("raw")})
    codes = [2, 2, None, 2, 2]
    out: list[Batch] = []
    for code in codes:
        t = clock.wall_ms()
        out += agg.add([Reading("plc", "a", t, None, Quality.BAD, code) if code else Reading("plc", "a", t, 1.0)],
                       clock.monotonic())
        clock.advance(1)
    out += agg.flush(clock.monotonic())
    assert [r.code for r in _readings(out)] == [2, None, 2]


def test_a_heartbeat_of_zero_never_repeats(build: Build, clock: ManualClock) -> None:
    agg = build(MODES, aggregation={"bad_heartbeat": 0})
    records = _readings(_run(agg, clock, 7200, TIMEOUT) + agg.flush(clock.monotonic()))
    assert [r.point for r in records] == ["plc:state"]


def test_a_point_may_not_take_the_name_of_a_state_record() -> None:
    config: dict[str, Any] = {"thing": "t", "site": "s", "asset_type": "a", "devices": [
        {"type": "modbus_tcp", "name": "plc", "host": "h", "points": [{"name": state_point("plc"), "address": 0}]}]}
    with pytest.raises(ConfigError, match="'plc:state' is reserved for its device's state record"):
        parse_config(config)


def test_opcua_no_communication_is_one_of_the_unreachable_codes() -> None:
    assert NO_COMMUNICATION == OPCUA_BAD_NO_COMMUNICATION
