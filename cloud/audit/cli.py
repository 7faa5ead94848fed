"""``edgeferry cloud audit``: export one device's records for an auditor, verify exports and the
archive, expire files past their retention."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cloud.audit.archive import Archive
from cloud.audit.chain import ChainError
from cloud.audit.export import ExportSpec, export, verify_export
from cloud.audit.report import ReportUnavailable
from cloud.audit.verify import verify_archive
from cloud.query import parse_time
from cloud.rules.actions.base import parse_duration
from cloud.stores.filelock import DirectoryLock, StoreInUse


def register_audit(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``cloud audit`` and its sub-commands."""
    audit = sub.add_parser("audit", help="audit exports and the lake's tamper-evident archive")
    commands = audit.add_subparsers(dest="audit_command", metavar="COMMAND", required=True)

    out = commands.add_parser("export", help="one device's records over a period: CSV, PDF report, chain proof")
    _lake(out)
    out.add_argument("--device", required=True)
    out.add_argument("--from", dest="start", type=parse_time, required=True,
                     help="ms since the epoch or ISO-8601 (UTC)")
    out.add_argument("--to", dest="end", type=parse_time, required=True, help="exclusive; as --from")
    out.add_argument("--out", type=Path, required=True, help="folder to write (created)")
    defaults = ExportSpec(device="", start=0, end=0)
    out.add_argument("--temperature", default=defaults.temperature, help="temperature point")
    out.add_argument("--setpoint", default=defaults.setpoint, help="setpoint point")
    out.add_argument("--door", default=defaults.door, help="door point (true = open)")
    out.add_argument("--threshold", type=float, default=defaults.threshold,
                     help="excursion: temperature above setpoint + this (°C)")
    out.add_argument("--late-after", type=_duration, default=defaults.late_after,
                     help="a record archived this long after its time arrived late (e.g. 30m)")
    out.add_argument("--gap", type=_duration, default=defaults.gap,
                     help="no temperature record for longer than this is a gap (e.g. 10m)")
    out.add_argument("--no-report", action="store_true", help="skip the PDF report")
    out.set_defaults(func=_export)

    check = commands.add_parser("verify", help="re-check the archive (and an export), naming the first broken link")
    _lake(check)
    check.add_argument("--export", type=Path, default=None, help="an export folder to check too")
    check.add_argument("--retention", type=_duration, default=None,
                       help="also check that no file expired before this retention (e.g. 730d)")
    check.set_defaults(func=_verify)

    expire = commands.add_parser("expire", help="remove archived files past their retention, through the chain")
    _lake(expire)
    expire.add_argument("--retention", type=_duration, required=True, help="e.g. 730d")
    expire.set_defaults(func=_expire)


def _lake(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True, metavar="DIR",
                        help="the embedded stores' directory (the rules file's dataDir)")
    parser.add_argument("--table", default="telemetry", help="the lake action's table")


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _root(args: argparse.Namespace) -> Path:
    root: Path = args.data / "lake" / args.table
    if not root.is_dir():
        raise ChainError(f"no lake table at {root}")
    return root


def _export(args: argparse.Namespace) -> int:
    spec = ExportSpec(device=args.device, start=args.start, end=args.end, temperature=args.temperature,
                      setpoint=args.setpoint, door=args.door, threshold=args.threshold,
                      late_after=args.late_after, gap=args.gap)
    try:
        summary = export(_root(args), spec, args.out, report=not args.no_report)
    except (ChainError, ReportUnavailable) as exc:
        return _fail(exc)
    print(f"{args.out}: {summary.records} records ({summary.temperatures} temperatures), "
          f"{summary.excursions} excursions, {summary.door_openings} door openings, "
          f"{summary.gaps} gaps, {summary.late_spans} late-arrived spans")
    return 0


def _verify(args: argparse.Namespace) -> int:
    try:
        root = _root(args)
        entries = verify_archive(root, retention=args.retention)
        if args.export is not None:
            verify_export(args.export, root)
    except ChainError as exc:
        return _fail(exc, "verification failed")
    head = entries[-1].hash[:16] if entries else "-"
    print(f"ok: {len(entries)} chain entries, head {head}" + (f"; export {args.export} matches"
                                                               if args.export is not None else ""))
    return 0


def _expire(args: argparse.Namespace) -> int:
    try:
        root = _root(args)
        lock = DirectoryLock(root)
        lock.acquire()
        try:
            archive = Archive(root, retention=args.retention)
            archive.open()
            expired = archive.expire()
        finally:
            lock.release()
    except (ChainError, StoreInUse) as exc:
        return _fail(exc)
    print(f"expired {len(expired)} files")
    return 0


def _fail(exc: Exception, what: str = "error") -> int:
    print(f"edgeferry: {what}: {exc}", file=sys.stderr)
    return 1
