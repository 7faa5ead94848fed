"""Structured logs: ``key=value`` text for people, one JSON object a line for collectors.

Libraries log with ``logger.info("event_name", extra={"device": ..., ...})``; the fields
given in ``extra`` are rendered after the event name.
"""

from __future__ import annotations

import json
import logging
import sys
import time

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def _fields(record: logging.LogRecord) -> dict[str, object]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD}


def _value(value: object) -> str:
    """logfmt: a value with spaces, quotes or ``=`` in it is quoted."""
    text = str(value)
    return json.dumps(text) if any(c in text for c in ' "=') else text


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        extra = " ".join(f"{k}={_value(v)}" for k, v in _fields(record).items())
        line = f"{stamp}Z {record.levelname:<7} {record.name}: {record.getMessage()}"
        if extra:
            line += f" {extra}"
        if record.exc_info and record.levelno >= logging.ERROR:
            line += f" error={record.exc_info[1]!r}"
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        obj: dict[str, object] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info and record.exc_info[1] is not None:
            obj["error"] = repr(record.exc_info[1])
        return json.dumps(obj, default=str)


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time, so a live display that redirects stderr
    (rich's ``Live``) prints log lines above itself instead of having them glued onto its line."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Send logs to stderr, one line per event (the Greengrass nucleus captures it as is)."""
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("asyncua").setLevel(max(logging.WARNING, root.level))
    # pymodbus logs every failed connect, retry and timeout itself ("Failed to connect ...",
    # "Repeating....", "No response received ..." with a hex dump); the Modbus source reports each
    # change of a device's state with its cause and counts timeouts, so pymodbus stays silent
    # unless asked for with --log-level DEBUG.
    logging.getLogger("pymodbus").setLevel(logging.DEBUG if root.level <= logging.DEBUG else logging.CRITICAL)
