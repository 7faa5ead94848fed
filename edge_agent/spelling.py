""""Did you mean …?" for a configuration key that pydantic refuses as an extra input.

pydantic says where the unknown key is (``("devices", 0, "modbus_tcp", "hots")``) but not which keys
the model there accepts. :func:`known_keys` walks the model's annotations along that location —
through lists, optionals and discriminated unions (whose tag pydantic puts in the location) — to
the model, and :func:`did_you_mean` picks the closest of its keys with :mod:`difflib`.
"""

from __future__ import annotations

import difflib
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel


def _members(annotation: Any) -> list[Any]:
    """The types an annotation may stand for: Annotated and unions unwrapped."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _members(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [m for arg in get_args(annotation) for m in _members(arg)]
    return [annotation]


def _tag(model: type[BaseModel]) -> object:
    field = model.model_fields.get("type")
    if field is None or get_origin(field.annotation) is not Literal:
        return None
    return get_args(field.annotation)[0]


def _step(annotation: Any, part: int | str) -> list[Any]:
    out: list[Any] = []
    for member in _members(annotation):
        if isinstance(part, int):
            if get_origin(member) in (list, tuple) and get_args(member):
                out.append(get_args(member)[0])
        elif isinstance(member, type) and issubclass(member, BaseModel):
            field = member.model_fields.get(part)
            if field is not None:
                out.append(field.annotation)
            elif _tag(member) == part:
                out.append(member)
        elif get_origin(member) is dict and len(get_args(member)) == 2:
            out.append(get_args(member)[1])
    return out


def known_keys(model: type[BaseModel], location: tuple[int | str, ...]) -> set[str]:
    """The keys accepted by the model(s) that the mapping at ``location`` is validated against."""
    annotations: list[Any] = [model]
    for part in location:
        annotations = [nxt for annotation in annotations for nxt in _step(annotation, part)]
    keys: set[str] = set()
    for annotation in annotations:
        for member in _members(annotation):
            if isinstance(member, type) and issubclass(member, BaseModel):
                keys |= {field.alias or name for name, field in member.model_fields.items()}
    return keys


def did_you_mean(model: type[BaseModel], location: tuple[int | str, ...]) -> str:
    """``"; did you mean 'host'?"`` for the extra key at the end of ``location``, or ``""``."""
    if not location or not isinstance(location[-1], str):
        return ""
    close = difflib.get_close_matches(location[-1], sorted(known_keys(model, location[:-1])), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""
