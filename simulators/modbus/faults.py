"""Fault injection for the Modbus simulator, written on the command line as ``KIND:ARGS``.

- ``exception:ADDR[:CODE]``: a read or write of holding or input registers whose range covers
  ADDR gets Modbus exception CODE (default 4, server device failure);
- ``timeout:P``: each request goes unanswered with probability P (0..1);
- ``drop:SECONDS``: every SECONDS all client connections are closed;
- ``stuck:ADDR``: the value covering ADDR (in any table) stops updating.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from pymodbus.constants import ExcCodes

DEFAULT_EXCEPTION_CODE = int(ExcCodes.DEVICE_FAILURE)
_USAGE = "expected exception:ADDR[:CODE], timeout:P, drop:SECONDS or stuck:ADDR"


@dataclass(frozen=True, slots=True)
class Faults:
    """Every fault a simulator injects."""

    exceptions: dict[int, int] = field(default_factory=dict)
    """Address -> Modbus exception code."""
    timeout_probability: float = 0.0
    drop_every: float | None = None
    stuck: frozenset[int] = frozenset()

    def exception_for(self, address: int, count: int) -> int | None:
        """The exception code for a request of ``count`` from ``address``, if one applies."""
        if not self.exceptions:
            return None
        for addr, code in self.exceptions.items():
            if address <= addr < address + count:
                return code
        return None


def parse_faults(specs: Iterable[str]) -> Faults:
    """Build :class:`Faults` from ``KIND:ARGS`` strings; ValueError names the bad one."""
    exceptions: dict[int, int] = {}
    timeout = 0.0
    drop: float | None = None
    stuck: set[int] = set()
    for spec in specs:
        kind, _, args = spec.partition(":")
        parts = args.split(":") if args else []
        try:
            if kind == "exception" and len(parts) in (1, 2):
                code = int(parts[1]) if len(parts) == 2 else DEFAULT_EXCEPTION_CODE
                exceptions[_address(parts[0])] = int(ExcCodes(code))
            elif kind == "timeout" and len(parts) == 1:
                timeout = float(parts[0])
                if not 0.0 <= timeout <= 1.0:
                    raise ValueError("the probability must be within 0..1")
            elif kind == "drop" and len(parts) == 1:
                drop = float(parts[0])
                if drop <= 0:
                    raise ValueError("the period must be positive")
            elif kind == "stuck" and len(parts) == 1:
                stuck.add(_address(parts[0]))
            else:
                raise ValueError(_USAGE)
        except ValueError as exc:
            raise ValueError(f"fault {spec!r}: {exc}") from None
    return Faults(exceptions=exceptions, timeout_probability=timeout, drop_every=drop,
                  stuck=frozenset(stuck))


def _address(text: str) -> int:
    address = int(text, 0)
    if not 0 <= address <= 65535:
        raise ValueError("an address must be within 0..65535")
    return address
