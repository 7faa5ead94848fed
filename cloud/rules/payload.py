"""From a message payload to the value a rule reads.

A payload whose bytes are a JSON object or array is addressable (``SELECT a.b``); anything else (raw
bytes, text, a bare JSON number) is a binary payload that only ``*`` reaches — see "Working with binary
payloads", https://docs.aws.amazon.com/iot/latest/developerguide/binary-payloads.html
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Final, cast

from cloud.rules.errors import RulesError
from cloud.rules.operators import Normalise, keep_decimal
from cloud.rules.types import DECIMAL, ArithmeticFailure, Value, dumps, whole_as_int

_NOT_JSON: Final = (ValueError, RecursionError, ArithmeticError)
_PLAIN: Final = frozenset({str, int, bool, type(None)})  # JSON leaves that need no conversion
_EXACT_DOUBLE_INTS: Final = 2**53  # below this a whole double and its repr denote the same integer
# A fraction of zeros only (10.0, 2.500 is not) or an exponent: a number that may be whole. A match
# inside a string only costs the slower decoder, never a wrong value.
_MAYBE_WHOLE: Final = re.compile(r"\.0+(?![0-9])|[0-9][eE]")


def _reject_constant(name: str) -> Value:
    raise ValueError(f"{name} is not JSON")


class JsonReader:
    """Parses JSON text into engine values: numbers with a fraction or exponent become Decimals."""

    def __init__(self, normalise: Normalise) -> None:
        self._normalise = normalise
        self._whole_to_int = normalise is not keep_decimal
        # Numbers with a fraction or exponent become Decimals in C, no Python call per number, kept as
        # written (no rounding, no range trap: one huge number must not make the whole payload
        # unreadable; arithmetic on it rounds to 34 digits, or is Undefined out of range)...
        self._decoder = json.JSONDecoder(parse_float=Decimal, parse_constant=_reject_constant)

        def decimal(text: str) -> int | Decimal:
            number = Decimal(text)
            if text[-1] != "0" and "e" not in text and "E" not in text:
                return number  # a fraction not ending in 0 is never whole
            return whole_as_int(number)

        # ... unless the text may hold a whole number such as 10.0 or 1e3, which SQL 2016-03-23 reads
        # as an Int: then each number goes through the normaliser.
        self._normalising_decoder = json.JSONDecoder(parse_float=decimal, parse_constant=_reject_constant)

    def parse(self, text: str | bytes) -> Value:
        """The value of a JSON document; raises ValueError when it is not JSON."""
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        decoder = self._decoder
        if self._whole_to_int and _MAYBE_WHOLE.search(text) is not None:
            decoder = self._normalising_decoder
        value: Value = decoder.decode(text)
        return value

    def read_payload(self, payload: bytes | str | object) -> tuple[Value, bytes | None]:
        """The payload's value (object/array, or its raw bytes when not addressable JSON) and its bytes.

        The bytes are None for a payload passed pre-parsed (see :meth:`Scope.raw_payload
        <cloud.rules.context.Scope.raw_payload>`); such a payload must be a JSON value.
        """
        if isinstance(payload, bytes | bytearray | memoryview):
            raw = bytes(payload)
        elif isinstance(payload, str):
            raw = payload.encode("utf-8")
        else:
            try:
                value = self.convert(payload)
            except (ValueError, RecursionError) as exc:
                raise RulesError(f"the payload is not a JSON value: {exc}") from None
            if type(value) is dict or type(value) is list:
                return value, None
            raw = dumps(value).encode("utf-8")
        try:
            value = self.parse(raw)
        except _NOT_JSON:
            return raw, raw
        if type(value) is dict or type(value) is list:
            return value, raw
        return raw, raw

    def convert(self, value: object) -> Value:
        """A pre-parsed Python JSON value as an engine value (floats become Decimals, or Ints when whole
        under SQL 2016-03-23); raises ValueError for anything JSON cannot hold."""
        kind = type(value)
        if kind is dict:
            convert = self.convert
            return {(k if type(k) is str else _key(k)): (v if type(v) in _PLAIN else convert(v))
                    for k, v in value.items()}  # type: ignore[attr-defined]
        if kind is list or kind is tuple:
            convert = self.convert
            return [v if type(v) in _PLAIN else convert(v) for v in value]  # type: ignore[attr-defined]
        if kind is float:
            double = cast(float, value)
            if not math.isfinite(double):
                raise ValueError(f"{double!r} is not a JSON number")
            if self._whole_to_int and double.is_integer() and abs(double) < _EXACT_DOUBLE_INTS:
                return int(double)
            # The number its JSON text (repr) denotes, as the bytes of the same payload would give.
            return self._normalise(DECIMAL.create_decimal(repr(double)))
        if kind is Decimal:
            number = cast(Decimal, value)
            if not number.is_finite():
                raise ValueError(f"{number!r} is not a JSON number")
            try:
                return self._normalise(DECIMAL.plus(number))
            except ArithmeticFailure:
                raise ValueError(f"{number!r} is not a JSON number") from None
        if type(value) in _PLAIN:
            return value  # type: ignore[return-value]
        raise ValueError(f"{type(value).__name__} is not a JSON value")


def _key(key: object) -> str:
    """A non-string object key as json.dumps writes it."""
    if key is None or isinstance(key, bool | int | float):
        return json.dumps(key)
    raise ValueError(f"an object key must be a string, not {type(key).__name__}")
