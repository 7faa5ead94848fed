"""Hash functions: the lower-case hex digest of the argument's String conversion (UTF-8)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from cloud.rules.functions.base import Function, pure
from cloud.rules.types import UNDEFINED, Value, to_string


def _digest(algorithm: str) -> Callable[[Value], Value]:
    def apply(value: Value) -> Value:
        text = to_string(value)
        return UNDEFINED if text is None else hashlib.new(algorithm, text.encode("utf-8")).hexdigest()
    return apply


# md2, which AWS also lists, is in neither hashlib nor OpenSSL 3's default provider.
FUNCTIONS: tuple[Function, ...] = tuple(
    Function(name, pure(_digest(name)), 1, 1)
    for name in ("md5", "sha1", "sha224", "sha256", "sha384", "sha512")
)
