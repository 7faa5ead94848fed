"""StatusCode -> quality: the top two bits of the code are its severity (OPC-UA Part 4, 7.34.1)."""

from __future__ import annotations

from asyncua.ua.status_codes import StatusCodes
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.envelope import Quality
from edge_agent.sources.opcua.status import NO_COMMUNICATION, quality_of, reading_code, status_name


def test_known_codes_map_to_their_severity() -> None:
    assert quality_of(StatusCodes.Good) is Quality.GOOD
    assert quality_of(StatusCodes.GoodLocalOverride) is Quality.GOOD
    assert quality_of(StatusCodes.UncertainLastUsableValue) is Quality.UNCERTAIN
    assert quality_of(StatusCodes.UncertainSensorNotAccurate) is Quality.UNCERTAIN
    assert quality_of(StatusCodes.BadSensorFailure) is Quality.BAD
    assert quality_of(StatusCodes.BadNodeIdUnknown) is Quality.BAD
    assert quality_of(NO_COMMUNICATION) is Quality.BAD


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_severity_bits_alone_decide(code: int) -> None:
    severity = code >> 30
    expected = {0: Quality.GOOD, 1: Quality.UNCERTAIN, 2: Quality.BAD, 3: Quality.BAD}[severity]
    assert quality_of(code) is expected


def test_reading_code_keeps_everything_but_plain_good() -> None:
    assert reading_code(0) is None
    assert reading_code(StatusCodes.GoodLocalOverride) == StatusCodes.GoodLocalOverride
    assert reading_code(StatusCodes.BadSensorFailure) == 0x808C0000


def test_status_names() -> None:
    assert status_name(StatusCodes.BadNodeIdUnknown) == "BadNodeIdUnknown"
    assert status_name(0x80FF1234) == "0x80FF1234"
