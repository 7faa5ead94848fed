"""Date/time patterns: Joda-Time formatting (``parse_time``) and java.time parsing (``time_to_epoch``).

Both pattern languages share their lexical form: runs of one letter are fields, ``'...'`` is literal text
(``''`` a quote), anything else is literal. The common letters are supported (era, year, month, day,
week, weekday, hour in its four forms, minute, second, fraction, AM/PM, zone name, zone id, offsets).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_FIXED_OFFSET: Final = re.compile(r"(?:UTC|GMT|UT)?([+-])(\d{1,2})(?::?(\d{2}))?")
# java.time resolves these common short names when parsing a zone name ('z').
_ABBREVIATIONS: Final = {
    "PST": "America/Los_Angeles", "PDT": "America/Los_Angeles", "MST": "America/Denver",
    "MDT": "America/Denver", "CST": "America/Chicago", "CDT": "America/Chicago",
    "EST": "America/New_York", "EDT": "America/New_York", "BST": "Europe/London",
    "CET": "Europe/Paris", "CEST": "Europe/Paris", "JST": "Asia/Tokyo",
}
_MONTHS: Final = tuple(calendar.month_name)[1:]
_DAYS: Final = tuple(calendar.day_name)


class PatternError(ValueError):
    """A pattern letter this implementation does not know."""


@lru_cache(maxsize=256)
def fields(pattern: str) -> tuple[tuple[str, int | str], ...]:
    """The pattern as (letter, count) fields and ("", text) literals."""
    out: list[tuple[str, int | str]] = []
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char.isascii() and char.isalpha():
            j = i
            while j < n and pattern[j] == char:
                j += 1
            out.append((char, j - i))
            i = j
        elif char == "'":
            j, text = i + 1, []
            while j < n:
                if pattern[j] == "'":
                    if j + 1 < n and pattern[j + 1] == "'":
                        text.append("'")
                        j += 2
                        continue
                    break
                text.append(pattern[j])
                j += 1
            out.append(("", "".join(text) if j > i + 1 else "'"))
            i = j + 1
        else:
            out.append(("", char))
            i += 1
    return tuple(out)


@lru_cache(maxsize=256)
def zone_named(name: str) -> tzinfo | None:
    """A zone from an IANA id, UTC/GMT, a fixed offset (``UTC+01:00``, ``-0500``) or a short name."""
    if name in ("UTC", "GMT", "UT", "Z"):
        return UTC
    match = _FIXED_OFFSET.fullmatch(name)
    if match:
        sign = -1 if match.group(1) == "-" else 1
        offset = timedelta(hours=int(match.group(2)), minutes=int(match.group(3) or 0))
        return timezone(sign * offset)
    try:
        return ZoneInfo(_ABBREVIATIONS.get(name, name))
    except (ZoneInfoNotFoundError, ValueError):
        return None


# -- Joda-Time formatting ---------------------------------------------------------------------------------
def _number(value: int, count: int) -> str:
    return f"{value:0{count}d}" if value >= 0 else f"-{-value:0{count}d}"


def _year(value: int, count: int) -> str:
    return f"{value % 100:02d}" if count == 2 else _number(value, count)


def _offset(moment: datetime, colon: bool) -> str:
    delta = moment.utcoffset() or timedelta(0)
    minutes = int(delta.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}{':' if colon else ''}{mins:02d}"


def _zone_id(moment: datetime) -> str:
    zone = moment.tzinfo
    return zone.key if isinstance(zone, ZoneInfo) else (moment.tzname() or "UTC")


def _fraction(moment: datetime, count: int) -> str:
    millis = f"{moment.microsecond // 1000:03d}"
    return millis[:count] if count <= len(millis) else millis + "0" * (count - len(millis))


_JODA: Final[dict[str, Callable[[datetime, int], str]]] = {
    "G": lambda m, c: "AD" if m.year > 0 else "BC",
    "C": lambda m, c: _number(m.year // 100, c),
    "Y": lambda m, c: _year(m.year, c),
    "y": lambda m, c: _year(m.year, c),
    "x": lambda m, c: _year(m.isocalendar()[0], c),
    "w": lambda m, c: _number(m.isocalendar()[1], c),
    "e": lambda m, c: _number(m.isoweekday(), c),
    "E": lambda m, c: _DAYS[m.weekday()] if c >= 4 else _DAYS[m.weekday()][:3],
    "M": lambda m, c: _MONTHS[m.month - 1] if c >= 4 else (
        _MONTHS[m.month - 1][:3] if c == 3 else _number(m.month, c)),
    "d": lambda m, c: _number(m.day, c),
    "D": lambda m, c: _number(m.timetuple().tm_yday, c),
    "a": lambda m, c: "AM" if m.hour < 12 else "PM",
    "H": lambda m, c: _number(m.hour, c),
    "k": lambda m, c: _number(m.hour or 24, c),
    "K": lambda m, c: _number(m.hour % 12, c),
    "h": lambda m, c: _number(m.hour % 12 or 12, c),
    "m": lambda m, c: _number(m.minute, c),
    "s": lambda m, c: _number(m.second, c),
    "S": _fraction,
    "z": lambda m, c: _zone_id(m) if c >= 4 else (m.tzname() or "UTC"),
    "Z": lambda m, c: _zone_id(m) if c >= 3 else _offset(m, colon=c == 2),
}


def joda_format(pattern: str, epoch_ms: int, zone: tzinfo) -> str:
    """``epoch_ms`` formatted with a Joda-Time pattern in ``zone``."""
    moment = datetime.fromtimestamp(0, UTC) + timedelta(milliseconds=epoch_ms)
    moment = moment.astimezone(zone)
    parts: list[str] = []
    for letter, spec in fields(pattern):
        if not letter:
            parts.append(str(spec))
            continue
        render = _JODA.get(letter)
        if render is None:
            raise PatternError(f"unsupported pattern letter {letter!r}")
        parts.append(render(moment, int(spec)))
    return "".join(parts)


# -- java.time parsing ---------------------------------------------------------------------------------------
_ZONE_TEXT: Final = r"[A-Za-z][A-Za-z0-9_/+\-:]*"
_OFFSET_TEXT: Final = r"Z|[+-]\d{2}(?::?\d{2})?"


def _digits(count: int) -> str:
    return rf"\d{{{count}}}" if count > 1 else r"\d{1,2}"


def _java_field(letter: str, count: int) -> tuple[str, str]:
    """(group name, regex) of one java.time pattern field."""
    if letter in "yu":
        return "year", r"\d{2}" if count == 2 else rf"[+-]?\d{{{max(count, 1)},9}}"
    if letter in "ML":
        if count >= 4:
            return "month", "|".join(_MONTHS)
        if count == 3:
            return "month", "|".join(m[:3] for m in _MONTHS)
        return "month", _digits(count)
    simple = {"d": "day", "H": "hour", "k": "hour24", "K": "hour12", "h": "hour12", "m": "minute",
              "s": "second"}
    if letter in simple:
        return simple[letter], _digits(count)
    if letter == "S":
        return "fraction", rf"\d{{{count}}}"
    if letter == "a":
        return "ampm", "AM|PM|am|pm"
    if letter == "E":
        return "weekday", "|".join(_DAYS) + "|" + "|".join(d[:3] for d in _DAYS)
    if letter == "G":
        return "era", "AD|BC"
    if letter in "VzO":
        return "zone", _ZONE_TEXT
    if letter in "XxZ":
        return "offset", _OFFSET_TEXT
    raise PatternError(f"unsupported pattern letter {letter!r}")


@lru_cache(maxsize=256)
def _java_regex(pattern: str) -> re.Pattern[str]:
    parts: list[str] = []
    seen: set[str] = set()
    for letter, spec in fields(pattern):
        if not letter:
            parts.append(re.escape(str(spec)))
            continue
        name, regex = _java_field(letter, int(spec))
        if name in seen:
            parts.append(f"(?:{regex})")
        else:
            seen.add(name)
            parts.append(f"(?P<{name}>{regex})")
    return re.compile("".join(parts))


def java_parse_epoch_ms(text: str, pattern: str) -> int | None:
    """Milliseconds since the epoch of ``text`` read with a java.time pattern; UTC when it names no zone."""
    match = _java_regex(pattern).fullmatch(text)
    if match is None:
        return None
    got = match.groupdict()
    if got.get("year") is None or got.get("day") is None or got.get("month") is None:
        return None
    year = int(got["year"])
    if len(got["year"]) == 2:
        year += 2000
    if got.get("era") == "BC":
        year = 1 - year
    month_text = got["month"]
    month = int(month_text) if month_text.isdigit() else next(
        i + 1 for i, name in enumerate(_MONTHS) if name.startswith(month_text))
    hour = int(got.get("hour") or 0)
    if got.get("hour24") is not None:
        hour = int(got["hour24"]) % 24
    if got.get("hour12") is not None:
        hour = int(got["hour12"]) % 12 + (12 if (got.get("ampm") or "").upper() == "PM" else 0)
    fraction = got.get("fraction") or "0"
    micros = int((fraction + "000000")[:6])
    zone: tzinfo | None = UTC
    if got.get("zone") is not None:
        zone = zone_named(got["zone"])
    elif got.get("offset") is not None:
        zone = zone_named(got["offset"])
    if zone is None:
        return None
    moment = datetime(year, month, int(got["day"]), hour, int(got.get("minute") or 0),
                      int(got.get("second") or 0), micros, tzinfo=zone)
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
