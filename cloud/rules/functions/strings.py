"""String functions (concat, substring, case, trimming, padding, replace, regexp_*, encode/decode, ...).

Non-String arguments take AWS's standard conversion to String; a Null or Undefined argument (which
converts to nothing) makes the result Undefined.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Final

from cloud.rules.context import Scope
from cloud.rules.functions.base import V2016, Function, pure
from cloud.rules.operators import normaliser
from cloud.rules.payload import JsonReader
from cloud.rules.types import UNDEFINED, Value, to_int_floor, to_string

log = logging.getLogger(__name__)

_PAD_MAX: Final = 1000
# Java's String.trim() removes every character up to U+0020.
_WHITESPACE: Final = "".join(chr(c) for c in range(33))
_ASCII_MAX: Final = 127


def _text_function(fn: Callable[..., Value]) -> Callable[..., Value]:
    """Convert every argument to String first; Undefined when one does not convert."""
    def apply(*args: Value) -> Value:
        texts = [to_string(arg) for arg in args]
        if any(t is None for t in texts):
            return UNDEFINED
        return fn(*texts)
    return apply


def _concat(*args: Value) -> Value:
    if not args:
        return UNDEFINED
    if len(args) == 1:
        return args[0]
    if any(arg is UNDEFINED for arg in args):
        return UNDEFINED
    if any(type(arg) is list for arg in args):
        joined: list[Value] = []
        for arg in args:
            if type(arg) is list:
                joined.extend(arg)
            else:
                joined.append(arg)
        return joined
    if any(type(arg) is str for arg in args):
        return _text_function(lambda *texts: "".join(texts))(*args)
    return UNDEFINED


def _substring(value: Value, start: Value, end: Value = None) -> Value:
    text, begin = to_string(value), to_int_floor(start)
    if text is None or begin is None:
        return UNDEFINED
    begin = min(max(begin, 0), len(text))
    if end is None:
        return text[begin:]
    finish = to_int_floor(end)
    if finish is None:
        return UNDEFINED
    finish = min(max(finish, 0), len(text))
    return text[begin:finish] if finish >= begin else ""


def _padding(pad: Callable[[str, int], str]) -> Callable[[Value, Value], Value]:
    def apply(value: Value, count: Value) -> Value:
        text, width = to_string(value), to_int_floor(count)
        if text is None or width is None:
            return UNDEFINED
        return pad(text, min(max(width, 0), _PAD_MAX))
    return apply


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


_GROUP_REFERENCE: Final = re.compile(r"\\(.)|\$(\d+)|\$\{(\w+)\}|\\")


def _java_replacement(replacement: str) -> str:
    """A Java replacement string (``$1``, ``${name}``, ``\\$``) in Python's ``re.sub`` syntax."""
    def convert(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            return match.group(1).replace("\\", "\\\\")
        if match.group(2) is not None:
            return f"\\g<{match.group(2)}>"
        if match.group(3) is not None:
            return f"\\g<{match.group(3)}>"
        return "\\\\"
    return _GROUP_REFERENCE.sub(convert, replacement)


def _regexp_matches(text: str, pattern: str) -> Value:
    regex = _regex(pattern)
    return UNDEFINED if regex is None else regex.search(text) is not None


def _regexp_replace(text: str, pattern: str, replacement: str) -> Value:
    regex = _regex(pattern)
    if regex is None:
        return UNDEFINED
    try:
        return regex.sub(_java_replacement(replacement), text)
    except (re.error, IndexError):
        return UNDEFINED


def _regexp_substr(text: str, pattern: str) -> Value:
    regex = _regex(pattern)
    if regex is None:
        return UNDEFINED
    match = regex.search(text)
    return "" if match is None else match.group(0)


def _chr(value: Value) -> Value:
    code = to_int_floor(value)
    if code is None or not 0 <= code <= _ASCII_MAX:
        return UNDEFINED
    return chr(code)


def _encode(scope: Scope, args: Sequence[Value]) -> Value:
    value, scheme = args
    if scheme != "base64":
        return UNDEFINED
    if type(value) is bytes:
        return base64.b64encode(value).decode("ascii")
    text = to_string(value)
    return UNDEFINED if text is None else base64.b64encode(text.encode("utf-8")).decode("ascii")


def _decode(scope: Scope, args: Sequence[Value]) -> Value:
    """base64 text to the JSON value it holds, or to its text; Null when it does not decode. With
    ``'proto'`` and its four arguments, a binary payload to the message's JSON."""
    value, scheme, *proto = args
    if scheme == "proto" and len(proto) == 4:
        return _decode_proto(scope, value, proto)
    if scheme != "base64" or proto or type(value) is not str:
        return UNDEFINED
    try:
        text = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    try:
        return _json_reader(scope.sql_version).parse(text)
    except (ValueError, RecursionError, ArithmeticError):
        return text


def _decode_proto(scope: Scope, value: Value, args: Sequence[Value]) -> Value:
    if type(value) is not bytes or scope.protos is None or not all(type(a) is str for a in args):
        return UNDEFINED
    bucket, key, proto_file, message_type = (str(a) for a in args)
    try:
        decoded = scope.protos.decode(value, bucket, key, proto_file, message_type)
    except ValueError as exc:
        log.warning("decode proto failed", extra={"error": str(exc)})
        return UNDEFINED
    return _json_reader(scope.sql_version).convert(decoded)


@lru_cache(maxsize=4)
def _json_reader(sql_version: str) -> JsonReader:
    return JsonReader(normaliser(sql_version))


def _index_of(text: str, part: str) -> Value:
    return text.find(part)


FUNCTIONS: tuple[Function, ...] = (
    Function("concat", pure(_concat), 0, None),
    Function("substring", pure(_substring), 2, 3),
    Function("lower", pure(_text_function(str.lower)), 1, 1),
    Function("upper", pure(_text_function(str.upper)), 1, 1),
    Function("trim", pure(_text_function(lambda t: t.strip(_WHITESPACE))), 1, 1),
    Function("ltrim", pure(_text_function(lambda t: t.lstrip(_WHITESPACE))), 1, 1),
    Function("rtrim", pure(_text_function(lambda t: t.rstrip(_WHITESPACE))), 1, 1),
    Function("lpad", pure(_padding(lambda t, n: " " * n + t)), 2, 2),
    Function("rpad", pure(_padding(lambda t, n: t + " " * n)), 2, 2),
    Function("replace", pure(_text_function(lambda t, old, new: t.replace(old, new))), 3, 3),
    Function("regexp_matches", pure(_text_function(_regexp_matches)), 2, 2),
    Function("regexp_replace", pure(_text_function(_regexp_replace)), 3, 3),
    Function("regexp_substr", pure(_text_function(_regexp_substr)), 2, 2),
    Function("indexof", pure(_text_function(_index_of)), 2, 2, V2016),
    Function("startswith", pure(_text_function(str.startswith)), 2, 2),
    Function("endswith", pure(_text_function(str.endswith)), 2, 2),
    Function("length", pure(_text_function(len)), 1, 1, V2016),
    Function("numbytes", pure(_text_function(lambda t: len(t.encode("utf-8")))), 1, 1, V2016),
    Function("chr", pure(_chr), 1, 1),
    Function("encode", _encode, 2, 2, V2016),
    Function("decode", _decode, 2, 6, V2016),
)
