"""The small contracts between the boxes of the data path (see DESIGN.md).

Every component is an async context manager (start / stop) and keeps its own
:class:`~edge_agent.metrics.Counters` in ``counters``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Protocol, Self, runtime_checkable

from edge_agent.envelope import Batch, Reading
from edge_agent.metrics import Counters

Ack = Callable[[BaseException | None], Awaitable[None]]
"""Called once per taken batch: ``None`` deletes it; ``Retryable`` requeues it (it comes back
first); ``Rejected`` removes it and counts it as rejected."""


@runtime_checkable
class Component(Protocol):
    counters: Counters

    async def __aenter__(self) -> Self: ...
    async def __aexit__(self, *exc: object) -> None: ...


@runtime_checkable
class Source(Component, Protocol):
    """A fieldbus device (Modbus, OPC-UA) producing readings."""

    name: str

    def scans(self) -> AsyncIterator[Sequence[Reading]]:
        """Readings in groups: one poll cycle, or one data-change notification. Runs until the
        source is closed; never raises for device faults (they become bad-quality readings)."""
        ...


@runtime_checkable
class Spool(Component, Protocol):
    """Durable store-and-forward buffer of batches for one device (thing)."""

    @property
    def epoch(self) -> str:
        """Random id made once when this spool was first created."""
        ...

    @property
    def last_seq(self) -> int:
        """Highest seq ever put (0 when none): the next batch must use ``last_seq + 1``."""
        ...

    async def put(self, batch: Batch) -> None:
        """Return once the batch is durable; honour the spool's ``when_full`` policy."""
        ...

    async def take(self) -> tuple[Batch, Ack]:
        """Wait for the next batch not yet taken (alarms first, then by seq) and its ack."""
        ...

    def stats(self) -> SpoolStats: ...


class SpoolStats(Protocol):
    """Read-only view (``edge_agent.spool.SpoolStats`` is the frozen dataclass spools return)."""

    @property
    def depth(self) -> int: ...
    @property
    def bytes(self) -> int: ...
    @property
    def oldest_age(self) -> float | None: ...
    @property
    def dropped(self) -> int: ...
    @property
    def rejected(self) -> int: ...
    @property
    def last_acked_seq(self) -> int: ...
    @property
    def in_flight(self) -> int: ...


@runtime_checkable
class Sink(Component, Protocol):
    """Where batches leave the edge (MQTT, Greengrass IPC, stdout, file)."""

    async def send(self, batch: Batch) -> None:
        """Return only once the peer acknowledged; raise ``Retryable`` or ``Rejected``."""
        ...
