"""A real OPC-UA simulator per test on a free port, and a helper collecting a source's readings."""

from __future__ import annotations

import asyncio
import shutil
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from edge_agent.envelope import Reading
from edge_agent.sources.opcua.config import OpcUaDevice
from edge_agent.sources.opcua.source import OpcUaSource
from simulators.opcua.server import OpcUaSimulator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
async def simulator() -> AsyncIterator[OpcUaSimulator]:
    """A 30-point pump station whose values change every 200 ms."""
    async with OpcUaSimulator(port=0, points=30, update_interval=0.2, seed=3) as sim:
        yield sim


def device(endpoint: str, points: list[dict[str, Any]], **settings: Any) -> OpcUaDevice:
    """A fast device config: 200 ms sampling and publishing, 300 ms polls, short backoff."""
    data: dict[str, Any] = {
        "type": "opcua", "name": "booster", "endpoint": endpoint, "sampling_interval": "200ms",
        "publishing_interval": "200ms", "poll_interval": "300ms", "reconnect_min": "200ms",
        "reconnect_max": "1s", "watchdog_interval": "500ms", "timeout": "3s", "points": points}
    data.update(settings)
    return OpcUaDevice.model_validate(data)


def trust(certificate: Path, pki: Path) -> Path:
    """Copy a server certificate into the trust list ``pki`` (as an operator would); its new path."""
    trusted = pki / "trusted" / "certs"
    trusted.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(certificate, trusted))


class Collector:
    """Reads a source's scans in the background; ``wait_for`` polls a condition on what came in."""

    def __init__(self, source: OpcUaSource) -> None:
        self.source = source
        self.scans: list[list[Reading]] = []
        self.arrivals: list[float] = []
        self._task = asyncio.create_task(self._consume())

    async def _consume(self) -> None:
        async for scan in self.source.scans():
            self.scans.append(list(scan))
            self.arrivals.append(time.monotonic())

    @property
    def readings(self) -> list[Reading]:
        return [r for scan in self.scans for r in scan]

    def of(self, point: str) -> list[Reading]:
        return [r for r in self.readings if r.point == point]

    async def wait_for(self, condition: Callable[[], bool], within: float = 30.0) -> None:
        deadline = time.monotonic() + within
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met in {within}s; counters "
                                     f"{self.source.counters.snapshot()}, {len(self.readings)} readings")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        await asyncio.wait_for(self._task, 10)


@pytest.fixture
def collect() -> Callable[[OpcUaSource], Collector]:
    return Collector
