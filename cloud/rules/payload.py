"""From a message payload to the value a rule reads.

A payload whose bytes are a JSON object or array is addressable (``SELECT a.b``); anything else (raw
bytes, text, a bare JSON number) is a binary payload that only ``*`` reaches — see "Working with binary
payloads", https://docs.aws.amazon.com/iot/latest/developerguide/binary-payloads.html
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Final

from cloud.rules.types import DECIMAL, ArithmeticFailure, Value

Normalise = Callable[[Decimal], "int | Decimal"]
_NOT_JSON: Final = (ValueError, RecursionError, ArithmeticError)


def _reject_constant(name: str) -> Value:
    raise ValueError(f"{name} is not JSON")


class JsonReader:
    """Parses JSON text into engine values: numbers with a fraction or exponent become Decimals."""

    def __init__(self, normalise: Normalise) -> None:
        self._normalise = normalise
        create = DECIMAL.create_decimal

        def decimal(text: str) -> int | Decimal:
            return normalise(create(text))

        self._decoder = json.JSONDecoder(parse_float=decimal, parse_constant=_reject_constant)

    def parse(self, text: str | bytes) -> Value:
        """The value of a JSON document; raises ValueError when it is not JSON."""
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        value: Value = self._decoder.decode(text)
        return value

    def read_payload(self, payload: bytes | str | object) -> tuple[Value, bytes]:
        """The payload's value (object/array, or its raw bytes when not addressable JSON) and its bytes."""
        if isinstance(payload, bytes | bytearray | memoryview):
            raw = bytes(payload)
        elif isinstance(payload, str):
            raw = payload.encode("utf-8")
        else:
            value = self.convert(payload)
            if type(value) is dict or type(value) is list:
                return value, json.dumps(payload, separators=(",", ":")).encode("utf-8")
            raw = json.dumps(payload).encode("utf-8")
        try:
            value = self.parse(raw)
        except _NOT_JSON:
            return raw, raw
        if type(value) is dict or type(value) is list:
            return value, raw
        return raw, raw

    def convert(self, value: object) -> Value:
        """A pre-parsed Python JSON value as an engine value (floats become Decimals)."""
        if isinstance(value, dict):
            return {str(k): self.convert(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.convert(v) for v in value]
        if isinstance(value, float):
            try:
                return self._normalise(DECIMAL.create_decimal(repr(value)))
            except ArithmeticFailure:
                raise ValueError(f"{value!r} is not a JSON number") from None
        if value is None or isinstance(value, bool | int | str | Decimal | bytes):
            return value
        raise ValueError(f"{type(value).__name__} is not a JSON value")
