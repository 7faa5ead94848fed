"""``edgeferry sim modbus`` options that print and exit; errors are one line."""

from __future__ import annotations

import pytest
import yaml

from edge_agent.sources.modbus.config import ModbusRtuDevice, ModbusTcpDevice
from edgeferry.cli import main


def test_print_config_is_a_valid_device_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "modbus", "--profile", "pump-station", "--points", "100", "--port", "1502",
                 "--print-config"]) == 0
    (device,) = yaml.safe_load(capsys.readouterr().out)["devices"]
    config = ModbusTcpDevice.model_validate(device)
    assert config.port == 1502
    assert len(config.points) >= 100


def test_print_config_for_a_serial_port(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "modbus", "--profile", "reefer", "--serial", "/dev/ttyUSB0", "--unit", "4",
                 "--print-config"]) == 0
    (device,) = yaml.safe_load(capsys.readouterr().out)["devices"]
    config = ModbusRtuDevice.model_validate(device)
    assert (config.port, config.unit, config.parity) == ("/dev/ttyUSB0", 4, "E")


def test_print_map_lists_every_signal(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "modbus", "--profile", "reefer", "--print-map"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 13
    assert lines[0].split()[:4] == ["input_register", "0", "float32", "reefer_return_air"]


@pytest.mark.parametrize(("args", "message"), [
    (["--fault", "stuck:x"], "fault 'stuck:x'"),
    (["--unit", "300"], "--unit must be within 0..247"),
    (["--points", "0"], "--points must be positive"),
])
def test_bad_options_are_one_line_errors(args: list[str], message: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "modbus", *args]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("edgeferry: error: ")
    assert message in err
    assert "\n" not in err
