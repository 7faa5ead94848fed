"""``edgeferry cloud query``: answers from the embedded stores — current state, raw series, hourly
rollups, dead letters — as rich tables, or JSON with ``--json``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from cloud.stores.current_state import CurrentStateStore
from cloud.stores.dlq import DeadLetterQueue
from cloud.stores.sql import SqlDatabase
from cloud.stores.timeseries import TimeseriesStore

T = TypeVar("T")


class _Store(Protocol):
    def open(self) -> None: ...
    def close(self) -> None: ...


class QueryError(Exception):
    """A query that cannot be answered (no such store, bad time); one line for a user."""


def register_query(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``cloud query`` and its sub-commands."""
    query = sub.add_parser("query", help="query the embedded stores (current state, series, rollups, DLQ)")
    query.add_argument("--data", type=Path, required=True, metavar="DIR",
                       help="the embedded stores' directory (the rules file's dataDir)")
    kinds = query.add_subparsers(dest="query_command", metavar="WHAT", required=True)

    latest = _command(kinds, "latest", "latest value of every point of a device (current state)")
    latest.add_argument("--device", required=True)
    latest.add_argument("--table", default="current_state", help="current_state action's table")

    series = _command(kinds, "series", "raw readings and windows of one point, oldest first")
    _device_point(series)
    series.add_argument("--from", dest="start", type=parse_time, help="ms since the epoch or ISO-8601 (UTC)")
    series.add_argument("--to", dest="end", type=parse_time, help="ms since the epoch or ISO-8601 (UTC), exclusive")
    series.add_argument("--limit", type=int, default=1000)

    rollups = _command(kinds, "rollups", "hourly min / max / avg of one point")
    _device_point(rollups)

    dlq = _command(kinds, "dlq", "dead letters (error-action messages), newest first")
    dlq.add_argument("--limit", type=int, default=20)
    dlq.add_argument("--queue", default="dlq", help="dlq action's queue")


def _command(kinds: argparse._SubParsersAction[argparse.ArgumentParser], name: str,
             help_text: str) -> argparse.ArgumentParser:
    parser = kinds.add_parser(name, help=help_text, description=help_text)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=run_query)
    return parser


def _device_point(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", required=True)
    parser.add_argument("--point", required=True)
    parser.add_argument("--name", default="telemetry", help="timeseries action's name")


def parse_time(text: str) -> int:
    """ms since the epoch from ms or ISO-8601 (UTC when no zone is given); for argparse."""
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither ms since the epoch nor an ISO-8601 time") from None
    return int((stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp() * 1000)


def run_query(args: argparse.Namespace) -> int:
    try:
        columns, rows = asyncio.run(answer(args))
    except QueryError as exc:
        print(f"edgeferry: error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps([dict(zip(columns, row, strict=True)) for row in rows], indent=2))
    else:
        _table(args.query_command, columns, rows)
    return 0


async def answer(args: argparse.Namespace) -> tuple[list[str], list[Sequence[Any]]]:
    """Column names and rows for one query."""
    data: Path = args.data
    if args.query_command == "latest":
        state = CurrentStateStore(_db(data / "current_state" / f"{args.table}.db", "current-state store"))
        states = await _with(state, lambda: state.latest(args.device))
        return ["device", "point", "time", "value"], [(s.device, s.point, iso_time(s.t), s.value) for s in states]
    if args.query_command in ("series", "rollups"):
        ts = TimeseriesStore(_db(data / "timeseries" / f"{args.name}.db", "time-series store"), retention=0)
        if args.query_command == "series":
            rows = await _with(ts, lambda: ts.series(args.device, args.point, start=args.start, end=args.end,
                                                     limit=args.limit))
            return (["time", "kind", "value", "text", "q", "n", "min", "max", "avg"],
                    [(iso_time(r.t), r.kind, r.value, r.text, r.q, r.n, r.min, r.max, r.avg) for r in rows])
        rollups = await _with(ts, lambda: ts.rollups(args.device, args.point))
        return (["hour", "n", "min", "max", "avg"],
                [(iso_time(r.hour), r.n, r.min, r.max, round(r.avg, 6)) for r in rollups])
    queue = DeadLetterQueue(_db(data / "dlq" / f"{args.queue}.db", "dead-letter queue"))
    letters = await _with(queue, lambda: queue.peek(args.limit, newest_first=True))
    return (["id", "received", "rule", "topic", "failures"],
            [(d.id, iso_time(d.received), d.message.get("ruleName"), d.message.get("topic"),
              d.message.get("failures")) for d in letters])


def _db(path: Path, what: str) -> SqlDatabase:
    if not path.is_file():
        raise QueryError(f"no {what} at {path}")
    return SqlDatabase(path=path)


async def _with(store: _Store, ask: Callable[[], Awaitable[T]]) -> T:
    """Open a store, ask it one thing, close it."""
    await asyncio.to_thread(store.open)
    try:
        return await ask()
    finally:
        store.close()


def iso_time(ms: int) -> str:
    """ISO-8601 UTC with milliseconds and a Z."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _table(title: str, columns: list[str], rows: list[Sequence[Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(_cell(v) for v in row))
    Console().print(table)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)
