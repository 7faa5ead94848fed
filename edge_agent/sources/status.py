"""edgeferry's own status codes for ``Reading.code`` when a bus gave no status of its own.

They are negative so they never clash with protocol codes: Modbus exception codes are 1..255 and
OPC-UA StatusCodes are unsigned 32-bit values. A reading carrying one of these has quality BAD.
"""

from __future__ import annotations

from typing import Final

TIMEOUT: Final = -1
"""The device did not answer within the timeout, after every retry."""
DISCONNECTED: Final = -2
"""There was no connection to the device when the value was due."""
DECODE_ERROR: Final = -3
"""The device answered, but the answer did not decode to the configured type (wrong length)."""

NAMES: Final = {TIMEOUT: "timeout", DISCONNECTED: "disconnected", DECODE_ERROR: "decode_error"}

OPCUA_BAD_NO_COMMUNICATION: Final = 0x80310000
"""OPC-UA's ``BadNoCommunication`` (Part 4, 7.34.2), which the OPC-UA source gives every point
while its server is unreachable."""
UNREACHABLE: Final = frozenset({TIMEOUT, DISCONNECTED, OPCUA_BAD_NO_COMMUNICATION})
"""Codes that say the device as a whole did not answer (rather than refusing one point)."""
