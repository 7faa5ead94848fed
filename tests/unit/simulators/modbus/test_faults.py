"""Fault flags of the Modbus simulator."""

from __future__ import annotations

import pytest

from simulators.modbus.faults import DEFAULT_EXCEPTION_CODE, parse_faults


def test_parses_every_kind() -> None:
    faults = parse_faults(["exception:100", "exception:0x20:2", "timeout:0.25", "drop:5", "stuck:7"])
    assert faults.exceptions == {100: DEFAULT_EXCEPTION_CODE, 32: 2}
    assert faults.timeout_probability == 0.25
    assert faults.drop_every == 5.0
    assert faults.stuck == frozenset({7})


def test_no_faults_by_default() -> None:
    faults = parse_faults([])
    assert faults.exceptions == {}
    assert faults.timeout_probability == 0
    assert faults.drop_every is None
    assert faults.exception_for(0, 125) is None


def test_exception_applies_to_requests_covering_the_address() -> None:
    faults = parse_faults(["exception:100:3"])
    assert faults.exception_for(90, 11) == 3
    assert faults.exception_for(100, 1) == 3
    assert faults.exception_for(90, 10) is None
    assert faults.exception_for(101, 5) is None


@pytest.mark.parametrize("spec", ["bogus", "exception", "exception:x", "exception:1:99", "timeout:2",
                                  "drop:0", "stuck:70000", "timeout:0.1:3"])
def test_bad_specs_name_themselves(spec: str) -> None:
    with pytest.raises(ValueError, match=f"fault '{spec}'"):
        parse_faults([spec])
