"""A polled Modbus device (TCP, RTU over TCP, serial RTU) as a :class:`~edge_agent.interfaces.Source`.

Every ``poll_interval`` on the monotonic clock the source runs its read plan on its connection and
yields the readings of that cycle, stamped with the wall clock (ms) when each response arrived.
Device faults never raise: they become readings of quality BAD with a code, and counters:

- a Modbus exception response: ``code`` is the exception code (2 illegal address, ...); a read
  of several points refused with 2 is split until the bad address is found, and the plan keeps
  it apart from then on (:mod:`~edge_agent.sources.modbus.holes`), so its neighbours stay good;
- no answer within ``timeout`` after ``retries``: :data:`~edge_agent.sources.status.TIMEOUT`;
- no connection: :data:`~edge_agent.sources.status.DISCONNECTED`; meanwhile a background task
  reconnects with exponential backoff and full jitter (``reconnect_min`` .. ``reconnect_max``);
- an answer that does not decode: :data:`~edge_agent.sources.status.DECODE_ERROR`.

Counters: every request a cycle is due to make counts in ``requests`` and has exactly one outcome:
``responses`` (data; of those ``decode_errors`` did not decode), ``exceptions``, ``timeouts``, or
``disconnected`` (failed, or not sent, for want of a connection); ``points_read`` (good readings);
``reconnects`` (connections made by the background reconnector), ``connect_failures``;
``overruns`` (cycles skipped because the previous one, or its consumer, was still busy);
``read_splits`` (refused reads split to find a hole in the register map).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any, Self

from pymodbus.exceptions import ConnectionException, ModbusException

from edge_agent.backoff import Backoff
from edge_agent.codec import CodecError
from edge_agent.envelope import Quality, Reading
from edge_agent.metrics import Counters
from edge_agent.sources.modbus.client import DeviceLink, endpoint
from edge_agent.sources.modbus.config import ModbusDeviceBase, ModbusRtuDevice, ModbusTcpDevice
from edge_agent.sources.modbus.holes import isolate, refused
from edge_agent.sources.modbus.plan import BIT_TABLES, ReadPlan, ReadRequest, plan_reads
from edge_agent.sources.modbus.schedule import PollSchedule
from edge_agent.sources.status import DECODE_ERROR, DISCONNECTED, TIMEOUT

log = logging.getLogger(__name__)

_READ_METHODS = {"coil": "read_coils", "discrete_input": "read_discrete_inputs",
                 "holding_register": "read_holding_registers", "input_register": "read_input_registers"}


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class ModbusSource:
    """One Modbus device: one connection (devices on one serial port share it), its read plan polled
    at a fixed rate (the plan defaults to :func:`~edge_agent.sources.modbus.plan.plan_reads` of
    ``config``)."""

    def __init__(self, config: ModbusDeviceBase, plan: ReadPlan | None = None) -> None:
        if not isinstance(config, ModbusTcpDevice | ModbusRtuDevice):
            raise TypeError("ModbusSource needs a modbus_tcp or modbus_rtu device config")
        self.name = config.name
        self.counters = Counters()
        self.plan: ReadPlan = plan or plan_reads(config)
        self._config: ModbusTcpDevice | ModbusRtuDevice = config
        self._where = endpoint(config)
        self._link = DeviceLink(config)
        self._client: Any = None
        self._reconnector: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()
        self._backoff = Backoff(base=config.reconnect_min, cap=config.reconnect_max)
        self._deadline = (config.retries + 1) * config.timeout + 1.0
        """Safety net over pymodbus's own timeout and retries."""
        self._in_flight = asyncio.Semaphore(config.max_in_flight)

    async def __aenter__(self) -> Self:
        self._closed.clear()
        if not await self._connect():
            self._lost("connect_failed")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closed.set()
        if self._reconnector is not None:
            self._reconnector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconnector
            self._reconnector = None
        if self._client is not None:
            self._link.release(self._client)
            self._client = None
        self.counters.set("connected", 0)

    @property
    def connected(self) -> bool:
        return self._client is not None and bool(self._client.connected)

    async def scans(self) -> AsyncIterator[Sequence[Reading]]:
        """One list of readings per poll cycle until the source is closed."""
        schedule = PollSchedule(self._config.poll_interval)
        while not self._closed.is_set():
            yield await self.poll()
            skipped = schedule.advance()
            if skipped:
                self.counters.inc("overruns", skipped)
                log.warning("modbus_poll_overrun", extra={"device": self.name, "skipped": skipped})
            delay = schedule.delay()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closed.wait(), delay)

    async def poll(self) -> list[Reading]:
        """Run the read plan once; every point gets a reading, good or bad."""
        client = self._client
        if client is None or not client.connected:
            self._lost("not_connected")
            t = _now_ms()
            self.counters.inc("requests", len(self.plan.requests))
            self.counters.inc("disconnected", len(self.plan.requests))
            return [r for req in self.plan.requests for r in self._bad(req, DISCONNECTED, t)]
        requests = self.plan.requests
        if self._config.max_in_flight == 1:
            results = [await self._read_or_isolate(client, r) for r in requests]
        else:
            results = await asyncio.gather(*(self._read_bounded(client, r) for r in requests))
        out = [r for readings, _ in results for r in readings]
        if not client.connected:
            self._lost("connection_lost")
        elif any(parts != [request] for request, (_, parts) in zip(requests, results, strict=True)):
            self.plan = ReadPlan(self.plan.device, [p for _, parts in results for p in parts])
        return out

    async def _read_bounded(self, client: Any, request: ReadRequest) -> tuple[list[Reading], list[ReadRequest]]:
        async with self._in_flight:
            return await self._read_or_isolate(client, request)

    async def _read_or_isolate(self, client: Any, request: ReadRequest
                               ) -> tuple[list[Reading], list[ReadRequest]]:
        """Read ``request``; if the device refuses it for an illegal address, find the hole (see
        :mod:`~edge_agent.sources.modbus.holes`). Returns the readings and what replaces the request."""
        readings = await self._read(client, request)
        if len(request.points) < 2 or not refused(readings):
            return readings, [request]
        found = await isolate(request, lambda part: self._read(client, part))
        self.counters.inc("read_splits")
        log.warning("modbus_read_split", extra={"device": self.name, "request": request.describe(),
                                                "parts": len(found.parts), "bad_points": ", ".join(found.bad_points)})
        return found.readings, found.parts

    async def _read(self, client: Any, request: ReadRequest) -> list[Reading]:
        self.counters.inc("requests")
        call = getattr(client, _READ_METHODS[request.table])
        try:
            async with asyncio.timeout(self._deadline):
                response = await call(request.address, count=request.count, device_id=self._config.unit)
        except (ModbusException, TimeoutError) as exc:
            t = _now_ms()
            if isinstance(exc, ConnectionException) or not client.connected:
                self.counters.inc("disconnected")
                return self._bad(request, DISCONNECTED, t)
            self.counters.inc("timeouts")
            return self._bad(request, TIMEOUT, t)
        t = _now_ms()
        if response.isError():
            self.counters.inc("exceptions")
            return self._bad(request, int(response.exception_code), t)
        self.counters.inc("responses")
        try:
            values = request.decode(response.bits if request.table in BIT_TABLES else response.registers)
        except CodecError as exc:
            self.counters.inc("decode_errors")
            log.warning("modbus_decode_error", extra={"device": self.name, "request": request.describe(),
                                                      "error": str(exc)})
            return self._bad(request, DECODE_ERROR, t)
        self.counters.inc("points_read", len(values))
        device = self.name
        return [Reading(device, name, t, value) for name, value in zip(request.names, values, strict=True)]

    def _bad(self, request: ReadRequest, code: int, t: int) -> list[Reading]:
        device = self.name
        return [Reading(device, name, t, None, Quality.BAD, code) for name in request.names]

    async def _connect(self) -> bool:
        """One connection attempt (bounded by ``timeout``)."""
        client = await self._link.open()
        if client is None:
            self.counters.inc("connect_failures")
            return False
        self._client = client
        self.counters.set("connected", 1)
        log.info("modbus_connected", extra={"device": self.name, "endpoint": self._where})
        return True

    def _lost(self, reason: str) -> None:
        """Drop the connection (if any) and reconnect in the background, once."""
        if self._closed.is_set() or (self._reconnector is not None and not self._reconnector.done()):
            return
        if self._client is not None:
            self._link.release(self._client)
            self._client = None
            log.warning("modbus_disconnected", extra={"device": self.name, "endpoint": self._where,
                                                      "reason": reason})
        self.counters.set("connected", 0)
        self._reconnector = asyncio.create_task(self._reconnect(), name=f"modbus-reconnect-{self.name}")

    async def _reconnect(self) -> None:
        while not self._closed.is_set():
            delay = self._backoff.next()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closed.wait(), delay)
            if self._closed.is_set():
                return
            if await self._connect():
                self._backoff.reset()
                self.counters.inc("reconnects")
                return
