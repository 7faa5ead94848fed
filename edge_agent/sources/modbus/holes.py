"""Holes in a device's register map: finding the addresses a coalesced read must not cover.

Many PLCs leave unmapped addresses between their blocks and answer a read that covers one with
exception 2 (illegal data address) for the whole request, so one bad address in a coalesced read
would make every point of it bad. When a read of several points is refused so, it is split in two
halves (by points, in address order) and each half is read; a refused half is split again, until
every part either reads or is a single point. A single point still refused is bad on its own
(its address is the hole, or it is misconfigured); a hole between points shows up as two parts
that read when apart.

The parts replace the request in the device's read plan, so later polls make the refused read
no more: the good points stay good at the cost of the extra requests (about two per halving, at
most ``2 * log2(points)`` for one hole). Parts are not merged back: a device may refuse a read
across a block boundary even when both sides read on their own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from edge_agent.envelope import Quality, Reading
from edge_agent.sources.modbus.plan import ReadRequest, request_for

ILLEGAL_DATA_ADDRESS: Final = 2
"""Modbus exception code 2: the address range of the request is not allowed by the device."""

Read = Callable[[ReadRequest], Awaitable[list[Reading]]]


def refused(readings: Sequence[Reading]) -> bool:
    """True when these readings of one request say the device refused it with exception 2."""
    return bool(readings) and readings[0].q is Quality.BAD and readings[0].code == ILLEGAL_DATA_ADDRESS


@dataclass(slots=True)
class Isolated:
    """What reading a refused request in parts gave."""

    readings: list[Reading] = field(default_factory=list)
    """Every point's reading, in the request's order."""
    parts: list[ReadRequest] = field(default_factory=list)
    """The requests that replace the refused one in the plan."""
    bad_points: list[str] = field(default_factory=list)
    """Points refused on their own."""


async def isolate(request: ReadRequest, read: Read, into: Isolated | None = None) -> Isolated:
    """Read a refused ``request`` in parts, halving refused parts (see the module docstring)."""
    out = into if into is not None else Isolated()
    half = len(request.points) // 2
    for points in (request.points[:half], request.points[half:]):
        part = request_for(points)
        got = await read(part)
        if not refused(got):
            out.readings += got
            out.parts.append(part)
        elif len(points) > 1:
            await isolate(part, read, out)
        else:
            out.readings += got
            out.parts.append(part)
            out.bad_points.append(points[0].name)
    return out
