"""``edgeferry spool``: look into a spool file."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from edge_agent.spool.inspect import SpoolReport, inspect_spool


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="spool_command", metavar="SUBCOMMAND", required=True)
    inspect = sub.add_parser(
        "inspect", help="show an SQLite spool's depth, size, age and counters (read-only)",
        description="Show an SQLite spool's depth, size, oldest age, dropped and rejected counts, "
                    "last acknowledged seq, epoch and last seq. Opens the file read-only: safe "
                    "while an agent is using it.")
    inspect.add_argument("path", type=Path, help="the spool file (spool.path in the agent config)")
    inspect.add_argument("--json", action="store_true", help="print one JSON object")
    inspect.set_defaults(func=_inspect)


def _inspect(args: argparse.Namespace) -> int:
    report = inspect_spool(args.path)
    print(json.dumps(_as_json(report)) if args.json else _as_text(report))
    return 0


def _as_json(report: SpoolReport) -> dict[str, object]:
    stats = asdict(report.stats)
    del stats["in_flight"]  # only the process holding the spool knows
    return {"path": str(report.path), "epoch": report.epoch, "last_seq": report.last_seq, **stats,
            "dead_letters": report.dead_letters}


def _as_text(report: SpoolReport) -> str:
    s = report.stats
    age = "-" if s.oldest_age is None else f"{s.oldest_age:.1f} s"
    rows = [("spool", str(report.path)), ("epoch", report.epoch), ("last seq", str(report.last_seq)),
            ("last acked seq", str(s.last_acked_seq)), ("depth", f"{s.depth} batches"),
            ("bytes", str(s.bytes)), ("oldest age", age), ("dropped", f"{s.dropped} ({s.disk_full} refused by a full disk)"),
            ("rejected", f"{s.rejected} ({report.dead_letters} kept)")]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
