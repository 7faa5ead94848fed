"""What a user sees at the default log level when a Modbus device is unreachable, lost and back:
one edgeferry line per change of state with the cause, and nothing from pymodbus itself."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest

from edge_agent.sources.modbus.source import ModbusSource
from edgeferry.logs import configure_logging
from simulators.modbus.server import ModbusSimulator
from tests.integration.sources.modbus.helpers import tcp_device, wait_until

FAST = {"poll_interval": 0.1, "timeout": 2.0, "retries": 0, "reconnect_min": 0.05, "reconnect_max": 0.3}


@pytest.fixture
def default_logging() -> Iterator[None]:
    """The command line's logging at its default level (INFO, text to stderr), undone afterwards."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in ("pymodbus", "asyncua", "asyncua.client")}
    configure_logging("INFO")
    yield
    root.handlers[:], root.level = saved
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def events(err: str) -> list[str]:
    """The Modbus source's events in the text log (simulator lines left out)."""
    return re.findall(r"^\S+ +(?:INFO|WARNING|ERROR) +edge_agent\.sources\.\S+: (\S+)", err, re.MULTILINE)


async def test_unreachable_device_is_one_line_with_the_cause(
        closed_port: int, default_logging: None, capsys: pytest.CaptureFixture[str]) -> None:
    async with ModbusSimulator("reefer", port=closed_port, update_interval=3600) as template:
        config = tcp_device(template.device_config(), **FAST)
    async with ModbusSource(config) as source:
        await wait_until(lambda: source.counters.get("connect_failures") >= 4)
    err = capsys.readouterr().err
    assert events(err) == ["modbus_unreachable"], err
    assert 'cause="connection refused: nothing listens on that port"' in err
    assert f"endpoint=127.0.0.1:{closed_port}" in err
    assert "pymodbus" not in err  # "Failed to connect ... Repeating...." stays out of the way


async def test_lost_and_back_are_one_line_each(closed_port: int, default_logging: None,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    async with ModbusSimulator("reefer", port=closed_port, update_interval=3600) as simulator:
        source = ModbusSource(tcp_device(simulator.device_config(), **FAST))
        await source.__aenter__()
    try:
        assert source.connected
        await source.poll()  # the server is gone: the read fails and the loss is noticed
        await wait_until(lambda: not source.connected)
        await wait_until(lambda: source.counters.get("connect_failures") >= 3)
        async with ModbusSimulator("reefer", port=closed_port, update_interval=3600):
            await wait_until(lambda: source.connected)
    finally:
        await source.__aexit__(None, None, None)
    err = capsys.readouterr().err
    assert events(err) == ["modbus_connected", "modbus_disconnected", "modbus_reconnected"], err
    assert re.search(r"modbus_reconnected device=\S+ endpoint=\S+ down_for=\d+s", err)
    assert "pymodbus" not in err
