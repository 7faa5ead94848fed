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


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        extra = " ".join(f"{k}={v}" for k, v in _fields(record).items())
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


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Send logs to stderr, one line per event (the Greengrass nucleus captures it as is)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("asyncua", "pymodbus"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # asyncua logs a traceback at ERROR whenever a server goes away; the OPC-UA source reports
    # the loss itself (one line, and bad-quality readings), so keep asyncua's client quiet.
    logging.getLogger("asyncua.client").setLevel(max(logging.CRITICAL, root.level))
