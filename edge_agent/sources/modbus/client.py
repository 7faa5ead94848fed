"""pymodbus clients for a device config: Modbus/TCP, RTU framing over TCP, and serial RTU.

edgeferry reconnects on its own schedule (exponential backoff, full jitter), so pymodbus's
built-in reconnect is turned off (``reconnect_delay=0``). pymodbus applies ``timeout`` and
``retries`` to each request.
"""

from __future__ import annotations

from typing import Any

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.framer import FramerType

from edge_agent.sources.modbus.config import ModbusRtuDevice, ModbusTcpDevice


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


def endpoint(config: ModbusTcpDevice | ModbusRtuDevice) -> str:
    """Where the device is, for logs: ``host:port`` or the serial port."""
    if isinstance(config, ModbusTcpDevice):
        return f"{config.host}:{config.port}"
    return config.port
