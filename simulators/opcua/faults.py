"""Fault injection for the OPC-UA simulator: ``badstatus:NODE[:CODE]`` and ``restart:SECONDS[:DOWN]``."""

from __future__ import annotations

from dataclasses import dataclass

from asyncua.ua.status_codes import StatusCodes

DEFAULT_BAD_STATUS = StatusCodes.BadSensorFailure


@dataclass(frozen=True, slots=True)
class BadStatus:
    """Node ``key`` (``Pump1.Flow``) reports ``code`` instead of a good value."""

    key: str
    code: int = DEFAULT_BAD_STATUS


@dataclass(frozen=True, slots=True)
class Restart:
    """The server stops every ``every`` seconds and comes back ``down`` seconds later."""

    every: float
    down: float = 1.0


Fault = BadStatus | Restart


def parse_fault(text: str) -> Fault:
    """``badstatus:Pump1.Flow``, ``badstatus:ns=2;s=Pump1.Flow:BadOutOfService``,
    ``badstatus:Pump1.Flow:0x808C0000``, ``restart:30`` or ``restart:30:5``; ValueError otherwise."""
    kind, _, rest = text.partition(":")
    if kind == "badstatus" and rest:
        node, _, code = rest.rpartition(":") if _has_code(rest) else (rest, "", "")
        key = node.removeprefix("ns=2;s=")
        return BadStatus(key, parse_status(code) if code else DEFAULT_BAD_STATUS)
    if kind == "restart" and rest:
        every, _, down = rest.partition(":")
        try:
            fault = Restart(float(every), float(down) if down else 1.0)
        except ValueError:
            raise ValueError(f"fault {text!r}: restart:SECONDS[:DOWN] needs numbers") from None
        if fault.every <= 0 or fault.down < 0:
            raise ValueError(f"fault {text!r}: SECONDS must be > 0 and DOWN >= 0")
        return fault
    raise ValueError(f"fault {text!r}: expected badstatus:NODE[:CODE] or restart:SECONDS[:DOWN]")


def _has_code(rest: str) -> bool:
    last = rest.rsplit(":", 1)
    return len(last) == 2 and (last[1].startswith("Bad") or last[1].startswith("Uncertain")
                               or last[1].lower().startswith("0x") or last[1].isdigit())


def parse_status(code: str) -> int:
    """A StatusCode by name (``BadSensorFailure``) or number (``0x808C0000``)."""
    if hasattr(StatusCodes, code):
        return int(getattr(StatusCodes, code))
    try:
        return int(code, 0)
    except ValueError:
        raise ValueError(f"{code!r} is not an OPC-UA status code name or number") from None
