"""Hash functions: the lower-case hex digest of the argument's String conversion (UTF-8)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from cloud.rules.functions.base import Function, pure
from cloud.rules.types import UNDEFINED, Value, to_string


def _digest(hexdigest: Callable[[bytes], str]) -> Callable[[Value], Value]:
    def apply(value: Value) -> Value:
        text = to_string(value)
        return UNDEFINED if text is None else hexdigest(text.encode("utf-8"))
    return apply


def _hashlib(algorithm: str) -> Callable[[bytes], str]:
    return lambda data: hashlib.new(algorithm, data).hexdigest()


def _md2(data: bytes) -> str:
    # MD2 is in neither hashlib nor OpenSSL 3's default provider: pycryptodome has it. Imported
    # on first use, so that rules without md2() load where it is not installed (the Lambda package).
    from Crypto.Hash import MD2

    return str(MD2.new(data).hexdigest())


FUNCTIONS: tuple[Function, ...] = (
    Function("md2", pure(_digest(_md2)), 1, 1),
    *(Function(name, pure(_digest(_hashlib(name))), 1, 1)
      for name in ("md5", "sha1", "sha224", "sha256", "sha384", "sha512")),
)
