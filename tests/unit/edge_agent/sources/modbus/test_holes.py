"""Bisecting a refused read: every hole found, every other point read, the parts cover the request."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.envelope import Quality, Reading
from edge_agent.sources.modbus.config import ModbusTcpDevice
from edge_agent.sources.modbus.holes import ILLEGAL_DATA_ADDRESS, isolate, refused
from edge_agent.sources.modbus.plan import ReadRequest, plan_reads


def _request(n: int) -> ReadRequest:
    device = ModbusTcpDevice.model_validate({
        "type": "modbus_tcp", "name": "d", "host": "h",
        "points": [{"name": f"p{a}", "address": a} for a in range(n)]})
    (request,) = plan_reads(device).requests
    return request


@settings(max_examples=100, deadline=None)
@given(n=st.integers(2, 120), holes=st.sets(st.integers(0, 119), min_size=1, max_size=4))
def test_isolate_finds_every_point_on_a_hole(n: int, holes: set[int]) -> None:
    holes = {h for h in holes if h < n} or {n - 1}
    request = _request(n)
    calls: list[ReadRequest] = []

    async def read(part: ReadRequest) -> list[Reading]:
        calls.append(part)
        if any(part.address <= h < part.end for h in holes):
            return [Reading("d", name, 0, None, Quality.BAD, ILLEGAL_DATA_ADDRESS) for name in part.names]
        return [Reading("d", name, 0, int(name[1:])) for name in part.names]

    found = asyncio.run(isolate(request, read))
    assert sorted(found.bad_points) == sorted(f"p{h}" for h in holes)
    assert [r.point for r in found.readings] == list(request.names)
    assert all(r.v == int(r.point[1:]) for r in found.readings if r.point not in found.bad_points)
    assert [name for part in found.parts for name in part.names] == list(request.names)
    assert all(len(p.points) == 1 for p in found.parts if refused([r for r in found.readings
                                                                   if r.point in p.names]))
    assert len(calls) <= 2 * len(holes) * n.bit_length()
