"""Polled points: one Read service call for all of them per interval, on the monotonic clock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

from asyncua import ua
from asyncua.client.client import Client
from asyncua.ua.attribute_ids import AttributeIds

from edge_agent.envelope import Reading
from edge_agent.metrics import Counters
from edge_agent.sources.opcua.targets import Binding
from edge_agent.sources.opcua.values import bad_reading, now_ms, reading_from


async def read_bindings(client: Client, device: str, bindings: Sequence[Binding], counters: Counters, *,
                        max_nodes: int = 0, t: int | None = None) -> list[Reading]:
    """Read the value of every bound node, in one Read request (or requests of ``max_nodes``),
    in the order of ``bindings``. An unbound node gets its Bad status. ``t`` stamps every reading
    (a poll's time); without it each reading keeps its source time."""
    bound = [b for b in bindings if b.node_id is not None]
    values: list[ua.DataValue] = []
    size = max_nodes or len(bound) or 1
    for start in range(0, len(bound), size):
        chunk = bound[start:start + size]
        counters.inc("reads")
        values += await client.uaclient.read_attributes([b.node_id for b in chunk if b.node_id is not None],
                                                        AttributeIds.Value)
    stamp = now_ms() if t is None else t
    by_binding = iter(values)
    return [reading_from(device, b.target, next(by_binding), t) if b.node_id is not None
            else bad_reading(device, b.target, b.status, stamp) for b in bindings]


async def poll_forever(client: Client, device: str, bindings: Sequence[Binding], interval: float,
                       deliver: Callable[[list[Reading]], Awaitable[None]], counters: Counters, *,
                       max_nodes: int = 0) -> None:
    """Poll every ``interval`` seconds on the monotonic clock, so the cycle does not drift. A poll
    that overruns its interval skips the cycles it missed (counted in ``overruns``) rather than
    starting polls back to back. Connection errors propagate: the session ends."""
    deadline = time.monotonic()
    while True:
        scan = await read_bindings(client, device, bindings, counters, max_nodes=max_nodes, t=now_ms())
        await deliver(scan)
        deadline += interval
        now = time.monotonic()
        if now > deadline:
            missed = int((now - deadline) // interval) + 1
            counters.inc("overruns", missed)
            deadline += missed * interval
        await asyncio.sleep(deadline - now)
