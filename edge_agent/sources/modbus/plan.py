"""The read plan of a Modbus device: its points packed into as few requests as the limits allow.

Per table, points are sorted by address and swept left to right: a point joins the open request
when the unused registers between it and the request's end are at most ``max_gap`` (``max_gap *
16`` bits in a bit table) and the request stays within ``max_registers`` (``max_bits``);
otherwise it opens the next request. The sweep makes the fewest requests possible under those two
rules. Each request carries a decoder compiled for its layout.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from edge_agent.codec import Value, register_count
from edge_agent.sources.modbus.block import BitBlockDecoder, Field, RegisterBlockDecoder
from edge_agent.sources.modbus.config import ModbusDeviceBase, ModbusPoint, Table

FUNCTION_CODES: Final[dict[str, int]] = {"coil": 1, "discrete_input": 2,
                                         "holding_register": 3, "input_register": 4}
BIT_TABLES: Final = frozenset({"coil", "discrete_input"})
TABLE_ORDER: Final = ("coil", "discrete_input", "holding_register", "input_register")


@dataclass(frozen=True, slots=True)
class PlannedPoint:
    """One element of a configured point (arrays expand to one per element)."""

    name: str
    table: Table
    address: int
    width: int
    """Registers (or bits, in a bit table) the value occupies."""
    point: ModbusPoint
    """The configured point it came from (dtype, orders, scaling, unit)."""

    @property
    def end(self) -> int:
        return self.address + self.width


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """One Modbus read: function code, first address, count, and the points it carries."""

    table: Table
    address: int
    count: int
    points: tuple[PlannedPoint, ...]
    decode: Callable[[Sequence[int]], list[Value]] = field(repr=False, compare=False)
    """Values of ``points`` (in order, scaled) from the response's registers or bits."""
    names: tuple[str, ...] = field(init=False, repr=False, compare=False)
    """Names of ``points``, in order."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(p.name for p in self.points))

    @property
    def function_code(self) -> int:
        return FUNCTION_CODES[self.table]

    @property
    def end(self) -> int:
        return self.address + self.count

    def describe(self) -> str:
        unit = "bits" if self.table in BIT_TABLES else "registers"
        return (f"FC{self.function_code} {self.table} {self.address}..{self.end - 1} "
                f"({self.count} {unit}, {len(self.points)} points)")


@dataclass(frozen=True, slots=True)
class ReadPlan:
    """Every request one poll of a device makes, in table then address order."""

    device: str
    requests: list[ReadRequest]

    @property
    def point_count(self) -> int:
        return sum(len(r.points) for r in self.requests)

    def describe(self) -> list[str]:
        """One line per request, for ``edgeferry agent check``."""
        return [r.describe() for r in self.requests]


def expand_points(points: Sequence[ModbusPoint]) -> list[PlannedPoint]:
    """One :class:`PlannedPoint` per array element; element ``k`` sits ``k * stride`` further."""
    out = []
    for point in points:
        width = 1 if point.table in BIT_TABLES else register_count(point.dtype, point.length)
        stride = point.stride or width
        names = point.expanded_names()
        for k, name in enumerate(names):
            out.append(PlannedPoint(name=name, table=point.table, address=point.address + k * stride,
                                    width=width, point=point))
    return out


def plan_reads(device: ModbusDeviceBase, *, coalesce_reads: bool = True) -> ReadPlan:
    """The fewest requests that read every point of ``device`` within its limits and gap rule.

    ``coalesce_reads=False`` plans one request per point, as naive pollers do (for comparisons).
    """
    by_table: dict[str, list[PlannedPoint]] = {}
    for p in expand_points(device.points):
        by_table.setdefault(p.table, []).append(p)
    requests = []
    for table in TABLE_ORDER:
        points = sorted(by_table.get(table, ()), key=lambda p: (p.address, p.width))
        if not points:
            continue
        bits = table in BIT_TABLES
        limit = device.max_bits if bits else device.max_registers
        gap = device.max_gap * 16 if bits else device.max_gap
        groups = coalesce(points, limit=limit, max_gap=gap) if coalesce_reads else [[p] for p in points]
        for group in groups:
            requests.append(request_for(group))
    return ReadPlan(device=device.name, requests=requests)


def coalesce(points: Sequence[PlannedPoint], *, limit: int, max_gap: int) -> list[list[PlannedPoint]]:
    """Split address-sorted points into runs that each fit one request of at most ``limit``."""
    groups: list[list[PlannedPoint]] = []
    start = end = 0
    for p in points:
        if groups and p.address - end <= max_gap and max(end, p.end) - start <= limit:
            groups[-1].append(p)
            end = max(end, p.end)
        else:
            groups.append([p])
            start, end = p.address, p.end
    return groups


def request_for(points: Sequence[PlannedPoint]) -> ReadRequest:
    """The one request that reads ``points`` (address-sorted, one table) and its decoder."""
    table = points[0].table
    address = points[0].address
    count = max(p.end for p in points) - address
    decode: Callable[[Sequence[int]], list[Value]]
    if table in BIT_TABLES:
        decode = BitBlockDecoder([p.address - address for p in points], count)
    else:
        decode = RegisterBlockDecoder([_field(p, address) for p in points], count)
    return ReadRequest(table=table, address=address, count=count, points=tuple(points), decode=decode)


def _field(p: PlannedPoint, start: int) -> Field:
    c = p.point
    return Field(offset=p.address - start, dtype=c.dtype, byte_order=c.byte_order,
                 word_order=c.word_order, bit=c.bit, length=c.length, scale=c.scale,
                 value_offset=c.offset)
