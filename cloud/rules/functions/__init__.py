"""The built-in functions of AWS IoT SQL, by lower-case name (function names are case-insensitive)."""

from __future__ import annotations

from typing import Final

from cloud.rules.functions import hashes, maths, misc, service, strings, times
from cloud.rules.functions.base import Function
from cloud.rules.functions.service import SERVICE_FUNCTION_NAMES

FUNCTIONS: Final[dict[str, Function]] = {
    f.name: f
    for module in (maths, strings, hashes, misc, times, service)
    for f in module.FUNCTIONS
}

__all__ = ["FUNCTIONS", "SERVICE_FUNCTION_NAMES", "Function"]
