"""pymodbus clients for a device config (Modbus/TCP, RTU framing over TCP, serial RTU), and the
link that hands a source its connected client.

edgeferry reconnects on its own schedule (exponential backoff, full jitter), so pymodbus's
built-in reconnect is turned off (``reconnect_delay=0``). pymodbus applies ``timeout`` and
``retries`` to each request.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from typing import Any, ClassVar

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.framer import FramerType

from edge_agent.sources.modbus.config import ModbusRtuDevice, ModbusTcpDevice

log = logging.getLogger(__name__)


def build_client(config: ModbusTcpDevice | ModbusRtuDevice) -> Any:
    """An unconnected pymodbus async client for ``config``."""
    if isinstance(config, ModbusTcpDevice):
        framer = FramerType.RTU if config.framer == "rtu" else FramerType.SOCKET
        return AsyncModbusTcpClient(config.host, port=config.port, framer=framer, timeout=config.timeout,
                                    retries=config.retries, reconnect_delay=0, name=config.name)
    return AsyncModbusSerialClient(config.port, framer=FramerType.RTU, baudrate=config.baudrate,
                                   bytesize=config.bytesize, parity=config.parity,
                                   stopbits=config.stopbits, timeout=config.timeout,
                                   retries=config.retries, reconnect_delay=0, name=config.name)


async def unreachable_cause(config: ModbusTcpDevice | ModbusRtuDevice) -> str:
    """Why connecting failed, in words. pymodbus's ``connect()`` answers only False (its reason goes
    to its own logger), so for Modbus/TCP one plain TCP connect repeats the attempt to learn it."""
    if not isinstance(config, ModbusTcpDevice):
        return f"cannot open serial port {config.port}"
    try:
        async with asyncio.timeout(config.timeout):
            _, writer = await asyncio.open_connection(config.host, config.port)
        writer.close()
    except TimeoutError:
        return f"no answer within {config.timeout:g} s (wrong host, or a firewall)"
    except socket.gaierror as exc:
        return f"cannot resolve {config.host!r} ({exc.strerror})"
    except OSError as exc:
        if exc.errno == errno.ECONNREFUSED:
            return "connection refused: nothing listens on that port"
        return exc.strerror or repr(exc)
    return "the connect failed, but the device accepts connections now (it may just have come up)"


def endpoint(config: ModbusTcpDevice | ModbusRtuDevice) -> str:
    """Where the device is, for logs: ``host:port`` or the serial port."""
    if isinstance(config, ModbusTcpDevice):
        return f"{config.host}:{config.port}"
    return config.port


class _SerialLine:
    __slots__ = ("client", "lock", "users")

    def __init__(self) -> None:
        self.client: Any = None
        self.lock = asyncio.Lock()
        self.users: set[int] = set()


class DeviceLink:
    """How a source gets its connected client. A TCP device has a connection of its own; devices on
    one serial port (an RS-485 multi-drop line, told apart by unit id) share one client, which
    pymodbus uses for one request at a time. The first device's line settings open the port."""

    _serial_lines: ClassVar[dict[str, _SerialLine]] = {}

    def __init__(self, config: ModbusTcpDevice | ModbusRtuDevice) -> None:
        self._config = config

    async def open(self) -> Any | None:
        """A connected client, or None when connecting failed (the caller retries later)."""
        if isinstance(self._config, ModbusTcpDevice):
            return await _connected(build_client(self._config))
        line = self._serial_lines.setdefault(self._config.port, _SerialLine())
        async with line.lock:
            if line.client is None or not line.client.connected:
                if line.client is not None:
                    line.client.close()
                line.client = await _connected(build_client(self._config))
            if line.client is not None:
                line.users.add(id(self))
            return line.client

    def release(self, client: Any) -> None:
        """This device no longer uses ``client``; a shared port closes when its last device leaves."""
        if isinstance(self._config, ModbusTcpDevice):
            client.close()
            return
        line = self._serial_lines.get(self._config.port)
        if line is None:
            client.close()
            return
        line.users.discard(id(self))
        if line.client is not client:
            client.close()  # a client the line has already replaced
        if not line.users:
            if line.client is not None:
                line.client.close()
            del self._serial_lines[self._config.port]


async def _connected(client: Any) -> Any | None:
    try:
        ok = bool(await client.connect())
    except Exception as exc:  # socket, pyserial and termios errors alike mean: not connected, retry
        log.warning("modbus_connect_error", extra={"device": client.comm_params.comm_name,
                                                   "error": repr(exc)})
        ok = False
    if not ok:
        client.close()
        return None
    return client
