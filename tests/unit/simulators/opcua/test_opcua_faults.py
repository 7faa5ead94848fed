"""Fault flags of the OPC-UA simulator."""

from __future__ import annotations

import pytest
from asyncua.ua.status_codes import StatusCodes

from simulators.opcua.faults import BadStatus, Restart, parse_fault


@pytest.mark.parametrize(("text", "fault"), [
    ("badstatus:Pump1.Flow", BadStatus("Pump1.Flow", StatusCodes.BadSensorFailure)),
    ("badstatus:ns=2;s=Pump1.Flow:BadOutOfService", BadStatus("Pump1.Flow", StatusCodes.BadOutOfService)),
    ("badstatus:Station.TankLevel:0x80310000", BadStatus("Station.TankLevel", 0x80310000)),
    ("badstatus:Pump2.Speed:UncertainLastUsableValue",
     BadStatus("Pump2.Speed", StatusCodes.UncertainLastUsableValue)),
    ("restart:30", Restart(30.0, 1.0)),
    ("restart:2.5:0.5", Restart(2.5, 0.5)),
])
def test_parse(text: str, fault: object) -> None:
    assert parse_fault(text) == fault


@pytest.mark.parametrize(("text", "message"), [
    ("badstatus", "expected badstatus:NODE"),
    ("restart:soon", "needs numbers"),
    ("restart:0", "must be > 0"),
    ("crash:1", "expected badstatus:NODE"),
    ("badstatus:Pump1.Flow:BadNoSuchCode", "not an OPC-UA status code"),
])
def test_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_fault(text)
