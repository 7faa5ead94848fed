"""From a message payload to the value a rule reads.

A payload whose bytes are a JSON object or array is addressable (``SELECT a.b``); anything else (raw
bytes, text, a bare JSON number) is a binary payload that only ``*`` reaches — see "Working with binary
payloads", https://docs.aws.amazon.com/iot/latest/developerguide/binary-payloads.html
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Final

from cloud.rules.errors import RulesError
from cloud.rules.operators import Normalise, keep_decimal
from cloud.rules.types import DECIMAL, ArithmeticFailure, Value, to_json

_NOT_JSON: Final = (ValueError, RecursionError, ArithmeticError)
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
        # Numbers with a fraction or exponent become Decimals in C (no Python call per number)...
        self._decoder = json.JSONDecoder(parse_float=DECIMAL.create_decimal, parse_constant=_reject_constant)

        create = DECIMAL.create_decimal

        def decimal(text: str) -> int | Decimal:
            number = create(text)
            if text[-1] != "0" and "e" not in text and "E" not in text:
                return number  # a fraction not ending in 0 is never whole
            return int(number) if number == number.to_integral_value() else number

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

    def read_payload(self, payload: bytes | str | object) -> tuple[Value, bytes]:
        """The payload's value (object/array, or its raw bytes when not addressable JSON) and its bytes.

        A pre-parsed payload is serialised and read back: the C encoder and decoder do that faster
        than a walk in Python, and the bytes are what ``encode(*, ...)`` needs anyway.
        """
        if isinstance(payload, bytes | bytearray | memoryview):
            raw = bytes(payload)
        elif isinstance(payload, str):
            raw = payload.encode("utf-8")
        else:
            try:
                raw = json.dumps(payload, separators=(",", ":"), allow_nan=False).encode("utf-8")
            except (TypeError, ValueError):  # Decimals, tuples with odd keys, ...: convert one by one
                try:
                    value = self.convert(payload)
                except (ValueError, RecursionError) as exc:
                    raise RulesError(f"the payload is not a JSON value: {exc}") from None
                raw = json.dumps(to_json(value), separators=(",", ":")).encode("utf-8")
                return (value, raw) if type(value) is dict or type(value) is list else (raw, raw)
        try:
            value = self.parse(raw)
        except _NOT_JSON:
            return raw, raw
        if type(value) is dict or type(value) is list:
            return value, raw
        return raw, raw

    def convert(self, value: object) -> Value:
        """A pre-parsed Python JSON value as an engine value (floats become Decimals)."""
        kind = type(value)
        if kind is str or kind is int or kind is bool or value is None:
            return value  # type: ignore[return-value]
        if kind is dict:
            convert = self.convert
            return {str(k): convert(v) for k, v in value.items()}  # type: ignore[attr-defined]
        if isinstance(value, float | Decimal):
            number = value if isinstance(value, Decimal) else Decimal(repr(value))
            if not number.is_finite():
                raise ValueError(f"{value!r} is not a JSON number")
            try:
                return self._normalise(DECIMAL.plus(number))
            except ArithmeticFailure:
                raise ValueError(f"{value!r} is not a JSON number") from None
        if isinstance(value, list | tuple):
            return [self.convert(v) for v in value]
        if isinstance(value, dict):
            return {str(k): self.convert(v) for k, v in value.items()}
        if isinstance(value, bool | int | str | bytes):
            return value
        raise ValueError(f"{type(value).__name__} is not a JSON value")

