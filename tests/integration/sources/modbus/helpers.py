"""Helpers for Modbus integration tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from edge_agent.envelope import Reading
from edge_agent.sources.modbus.config import ModbusRtuDevice, ModbusTcpDevice
from edge_agent.sources.modbus.source import ModbusSource


def tcp_device(config: dict[str, Any], **overrides: Any) -> ModbusTcpDevice:
    return ModbusTcpDevice.model_validate({**config, **overrides})


def rtu_device(port: str, points: list[dict[str, Any]], **overrides: Any) -> ModbusRtuDevice:
    return ModbusRtuDevice.model_validate({"type": "modbus_rtu", "name": "rtu", "port": port,
                                           "points": points, **overrides})


async def wait_until(condition: Callable[[], bool], within: float = 20.0, step: float = 0.02) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(step)


async def collect_scans(source: ModbusSource, n: int, within: float = 30.0) -> list[list[Reading]]:
    """The next ``n`` scans of ``source``."""
    scans: list[list[Reading]] = []

    async def run() -> None:
        async for scan in source.scans():
            scans.append(list(scan))
            if len(scans) >= n:
                return

    await asyncio.wait_for(run(), within)
    return scans


def by_point(readings: list[Reading]) -> dict[str, Reading]:
    return {r.point: r for r in readings}
