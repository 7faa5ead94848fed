"""Read planner: coverage, limits and the gap rule as properties; layouts decode like the codec."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from edge_agent.codec import decode_registers, register_count, scale_value
from edge_agent.sources.modbus.config import ModbusPoint, ModbusTcpDevice
from edge_agent.sources.modbus.plan import BIT_TABLES, ReadPlan, expand_points, plan_reads

REGISTER_DTYPES = ["bool", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64",
                   "string"]


def device(points: list[dict[str, Any]], **limits: Any) -> ModbusTcpDevice:
    return ModbusTcpDevice.model_validate({"type": "modbus_tcp", "name": "d", "host": "h", "points": points,
                                           **limits})


@st.composite
def point_dicts(draw: st.DrawFn, index: int) -> dict[str, Any]:
    table = draw(st.sampled_from(["coil", "discrete_input", "holding_register", "input_register"]))
    point: dict[str, Any] = {"name": f"p{index}", "table": table, "address": draw(st.integers(0, 3000))}
    if table in BIT_TABLES:
        point["dtype"] = "bool"
    else:
        dtype = draw(st.sampled_from(REGISTER_DTYPES))
        point["dtype"] = dtype
        if dtype == "string":
            point["length"] = draw(st.integers(1, 12))
        if dtype == "bool" and draw(st.booleans()):
            point["bit"] = draw(st.integers(0, 15))
        point["byte_order"] = draw(st.sampled_from(["big", "little"]))
        point["word_order"] = draw(st.sampled_from(["big", "little"]))
        if dtype not in ("bool", "string") and draw(st.booleans()):
            point["scale"] = draw(st.sampled_from([0.1, 0.01, 2.0]))
            point["offset"] = draw(st.sampled_from([0.0, -40.0]))
    if draw(st.integers(0, 4)) == 0:
        point["count"] = draw(st.integers(2, 40))
        point["name"] = f"p{index}_{{i}}"
        point["start"] = draw(st.integers(0, 3))
        if draw(st.booleans()):
            point["stride"] = draw(st.integers(1, 20))
    return point


@st.composite
def devices(draw: st.DrawFn) -> ModbusTcpDevice:
    n = draw(st.integers(1, 25))
    points = [draw(point_dicts(i)) for i in range(n)]
    limits = {"max_gap": draw(st.integers(0, 30)), "max_registers": draw(st.integers(12, 125)),
              "max_bits": draw(st.integers(1, 2000))}
    try:
        return device(points, **limits)
    except ValidationError:
        assume(False)
        raise


def _limits(d: ModbusTcpDevice, table: str) -> tuple[int, int]:
    bits = table in BIT_TABLES
    return (d.max_bits if bits else d.max_registers), (d.max_gap * 16 if bits else d.max_gap)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(devices())
def test_every_point_is_read_exactly_once(d: ModbusTcpDevice) -> None:
    plan = plan_reads(d)
    planned = Counter(p.name for r in plan.requests for p in r.points)
    expected = Counter(n for p in d.points for n in p.expanded_names())
    assert planned == expected
    assert plan.point_count == sum(expected.values())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(devices())
def test_requests_respect_limits_and_cover_their_points(d: ModbusTcpDevice) -> None:
    for r in plan_reads(d).requests:
        limit, _ = _limits(d, r.table)
        assert 1 <= r.count <= limit
        assert r.address == min(p.address for p in r.points)
        assert r.end == max(p.end for p in r.points)
        assert all(p.table == r.table and r.address <= p.address and p.end <= r.end for p in r.points)
        assert r.function_code == {"coil": 1, "discrete_input": 2, "holding_register": 3,
                                   "input_register": 4}[r.table]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(devices())
def test_gap_rule_and_no_mergeable_neighbours(d: ModbusTcpDevice) -> None:
    requests = plan_reads(d).requests
    for r in requests:
        _, gap = _limits(d, r.table)
        points = sorted(r.points, key=lambda p: (p.address, p.width))
        end = points[0].end
        for p in points[1:]:
            assert p.address - end <= gap, "read through more unused registers than max_gap"
            end = max(end, p.end)
    for a, b in itertools.pairwise(requests):
        if a.table != b.table:
            continue
        limit, gap = _limits(d, a.table)
        first = min(b.points, key=lambda p: (p.address, p.width))
        assert first.address - a.end > gap or max(a.end, first.end) - a.address > limit, \
            "two requests could have been one"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(devices(), st.randoms(use_true_random=False))
def test_block_decoders_agree_with_the_codec(d: ModbusTcpDevice, rnd: Any) -> None:
    for r in plan_reads(d).requests:
        if r.table in BIT_TABLES:
            bits = [rnd.random() < 0.5 for _ in range(r.count)]
            assert r.decode(bits) == [bits[p.address - r.address] for p in r.points]
            continue
        words = [rnd.randrange(0x10000) for _ in range(r.count)]
        for p, got in zip(r.points, r.decode(words), strict=True):
            c = p.point
            raw = decode_registers(words[p.address - r.address:p.end - r.address], c.dtype,
                                   byte_order=c.byte_order, word_order=c.word_order, bit=c.bit)
            want = scale_value(raw, c.scale, c.offset)
            if isinstance(want, float) and math.isnan(want):
                assert isinstance(got, float)
                assert math.isnan(got)
            elif isinstance(want, float):
                assert got == pytest.approx(want, rel=1e-12, abs=1e-12)
            else:
                assert got == want


def test_coalesces_a_pump_station_into_full_requests() -> None:
    points = [{"name": "flow_{i}", "table": "input_register", "address": 100, "dtype": "float32",
               "count": 200}]
    plan = plan_reads(device(points))
    assert [r.count for r in plan.requests] == [124, 124, 124, 28]
    assert plan.point_count == 200


def test_gap_splits_and_reads_through() -> None:
    points = [{"name": "a", "address": 0}, {"name": "b", "address": 9}, {"name": "c", "address": 30}]
    def spans(max_gap: int) -> list[tuple[int, int]]:
        return [(r.address, r.count) for r in plan_reads(device(points, max_gap=max_gap)).requests]

    assert spans(8) == [(0, 10), (30, 1)]
    assert spans(7) == [(0, 1), (9, 1), (30, 1)]
    assert len(plan_reads(device(points, max_gap=20)).requests) == 1


def test_bit_tables_read_through_gap_times_sixteen() -> None:
    points = [{"name": "a", "table": "coil", "address": 0, "dtype": "bool"},
              {"name": "b", "table": "coil", "address": 17, "dtype": "bool"}]
    assert len(plan_reads(device(points, max_gap=1)).requests) == 1
    assert len(plan_reads(device(points, max_gap=0)).requests) == 2


def test_array_points_expand_with_start_and_stride() -> None:
    point = ModbusPoint(name="pump{i}_flow", address=100, dtype="float32", count=3, start=1, stride=10)
    assert [(p.name, p.address, p.width) for p in expand_points([point])] == [
        ("pump1_flow", 100, 2), ("pump2_flow", 110, 2), ("pump3_flow", 120, 2)]


def test_describe_lists_each_request() -> None:
    points = [{"name": "a", "table": "coil", "address": 3, "dtype": "bool"},
              {"name": "t", "table": "input_register", "address": 0, "dtype": "float32"},
              {"name": "s", "table": "holding_register", "address": 10, "dtype": "string", "length": 4}]
    plan: ReadPlan = plan_reads(device(points))
    assert plan.describe() == [
        "FC1 coil 3..3 (1 bits, 1 points)",
        "FC3 holding_register 10..13 (4 registers, 1 points)",
        "FC4 input_register 0..1 (2 registers, 1 points)",
    ]


def test_overlapping_points_share_registers() -> None:
    points = [{"name": "word", "address": 5, "dtype": "uint16"},
              {"name": "bit0", "address": 5, "dtype": "bool", "bit": 0},
              {"name": "bit15", "address": 5, "dtype": "bool", "bit": 15},
              {"name": "both", "address": 5, "dtype": "uint32"}]
    (request,) = plan_reads(device(points)).requests
    assert (request.address, request.count) == (5, 2)
    values = dict(zip((p.name for p in request.points), request.decode([0x8001, 0x0002]), strict=True))
    assert values == {"word": 0x8001, "bit0": True, "bit15": True, "both": 0x80010002}


def test_points_beyond_the_address_space_are_config_errors() -> None:
    with pytest.raises(ValidationError, match="beyond 65535"):
        ModbusPoint(name="x{i}", address=65530, dtype="float32", count=4)
    assert register_count("float32") == 2


def test_naive_plan_has_one_request_per_point() -> None:
    points = [{"name": "f{i}", "address": 0, "dtype": "float32", "count": 10},
              {"name": "c{i}", "table": "coil", "address": 0, "dtype": "bool", "count": 5}]
    naive = plan_reads(device(points), coalesce_reads=False)
    assert len(naive.requests) == naive.point_count == 15
    assert all(len(r.points) == 1 and r.count == r.points[0].width for r in naive.requests)
    assert len(plan_reads(device(points)).requests) == 2
