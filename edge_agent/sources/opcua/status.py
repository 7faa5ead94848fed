"""OPC-UA StatusCode -> reading quality.

OPC-UA Part 4, 7.34.1: the top two bits of a StatusCode give its severity: ``00`` Good,
``01`` Uncertain, ``10`` Bad, and ``11`` (reserved) must be treated as Bad. The rest of the code
(sub-code, info bits) travels unchanged in :attr:`Reading.code`.
"""

from __future__ import annotations

from typing import Final

from asyncua.ua.status_codes import StatusCodes, code_to_name_doc

from edge_agent.envelope import Quality

_SEVERITY_SHIFT: Final = 30

NO_COMMUNICATION: Final[int] = StatusCodes.BadNoCommunication
"""Marks every point while the server is unreachable (Part 4, 7.34.2: communication to the data
source is defined but not established, and there is no last known value)."""


def quality_of(code: int) -> Quality:
    """Good -> 0, Uncertain -> 1, Bad (and the reserved severity) -> 2."""
    severity = (code >> _SEVERITY_SHIFT) & 0b11
    if severity == 0:
        return Quality.GOOD
    if severity == 1:
        return Quality.UNCERTAIN
    return Quality.BAD


def reading_code(code: int) -> int | None:
    """The code kept in a reading: ``None`` for plain Good, the full StatusCode otherwise."""
    return code or None


def status_name(code: int) -> str:
    """``BadNodeIdUnknown`` for ``0x80340000``; the hex value when the code is not in the table."""
    known = code_to_name_doc.get(code)
    return known[0] if known else f"0x{code:08X}"
