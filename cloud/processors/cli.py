"""``edgeferry cloud processors run`` (a worker) and ``edgeferry cloud alarms list|ack|snooze|reset``."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TypeVar

from pydantic import TypeAdapter, ValidationError

from cloud.processors.app import WorkerOptions, open_worker
from cloud.processors.checkpoint import Checkpoint
from cloud.processors.model import ConfigError, load_config
from cloud.processors.worker import WorkerStats
from cloud.rules.actions.base import Duration
from cloud.stores.sql import SqlDatabase

T = TypeVar("T")

logger = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``cloud processors`` and ``cloud alarms``."""
    processors = sub.add_parser("processors", help="hot-path processors: windows, alarm detectors")
    commands = processors.add_subparsers(dest="cloud_processors_command", metavar="SUBCOMMAND", required=True)
    run = commands.add_parser("run", help="run a processor worker until interrupted",
                              description="Read the stream's partitions, run windows and detector models, "
                                          "checkpoint, notify. With --group, workers sharing --state "
                                          "share the partitions.")
    run.add_argument("--config", type=Path, required=True, help="processors file (YAML)")
    run.add_argument("--state", type=Path, required=True, help="checkpoint database (SQLite file)")
    run.add_argument("--stream", type=Path, help="embedded stream directory")
    run.add_argument("--nats", action="append", default=[], metavar="URL", help="NATS server (repeatable)")
    run.add_argument("--nats-stream", default="telemetry", help="JetStream stream name")
    run.add_argument("--partitions", type=int, default=4, help="partitions of a NATS stream")
    run.add_argument("--data", type=Path, help="directory of the embedded stores (time series, current state)")
    run.add_argument("--broker-dir", type=Path, help="the rig's directory: publish alarms, take commands")
    run.add_argument("--group", action="store_true", help="share partitions with the other workers")
    run.add_argument("--member", help="this worker's name in the group (default: host-pid)")
    run.add_argument("--status-every", type=float, default=30.0, metavar="S")
    run.set_defaults(func=_run)

    letters = commands.add_parser("dead-letters", help="late readings and undecodable records, with why")
    letters.add_argument("--state", type=Path, required=True, help="the processors' checkpoint database")
    letters.add_argument("--limit", type=int, default=100, help="show at most this many (oldest first)")
    letters.set_defaults(func=_dead_letters)

    alarms = sub.add_parser("alarms", help="list and acknowledge, snooze or reset alarms")
    verbs = alarms.add_subparsers(dest="cloud_alarms_command", metavar="SUBCOMMAND", required=True)
    listing = verbs.add_parser("list", help="alarms and their states")
    listing.add_argument("--state", type=Path, required=True, help="the processors' checkpoint database")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=_list)
    for verb, help_text in (("ack", "acknowledge an alarm"), ("snooze", "silence an alarm for a while"),
                            ("reset", "return an alarm to NORMAL")):
        cmd = verbs.add_parser(verb, help=help_text)
        cmd.add_argument("--state", type=Path, required=True, help="the processors' checkpoint database")
        cmd.add_argument("--model", required=True, help="detector model name")
        cmd.add_argument("--alarm", required=True, help="alarm name")
        cmd.add_argument("--key", required=True, help="the device")
        if verb == "snooze":
            cmd.add_argument("--for", dest="duration", required=True, help="e.g. 30m, 2h")
        cmd.set_defaults(func=_command, verb={"ack": "acknowledge"}.get(verb, verb))


def _fail(message: str) -> int:
    print(f"edgeferry: error: {message}", file=sys.stderr)
    return 1


def _run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        return _fail(str(exc))
    if (args.stream is None) == (not args.nats):
        return _fail("give --stream DIR or --nats URL")
    options = WorkerOptions(config=config, state=args.state, stream=args.stream,
                            nats_servers=tuple(args.nats), nats_stream=args.nats_stream,
                            partitions=args.partitions, data=args.data, broker_dir=args.broker_dir,
                            group=args.group, member=args.member)
    try:
        stats = asyncio.run(_serve(options, args.status_every))
    except (OSError, ValueError) as exc:
        return _fail(str(exc))
    print(json.dumps(stats, sort_keys=True))
    return 0


async def _serve(options: WorkerOptions, status_every: float) -> dict[str, int]:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with open_worker(options) as worker:
        task = asyncio.create_task(worker.run(stop))
        while not task.done():
            await asyncio.wait({task}, timeout=status_every)
            logger.info("processors_status", extra=_counters(worker.stats))
        await task
        return _counters(worker.stats)


def _counters(stats: WorkerStats) -> dict[str, int]:
    return {k: len(v) if isinstance(v, set) else int(v) for k, v in asdict(stats).items()}


def _open(path: Path) -> Checkpoint | None:
    if not path.exists():
        return None
    checkpoint = Checkpoint(SqlDatabase(path=path))
    checkpoint.open()
    return checkpoint


def _read(path: Path, read: Callable[[Checkpoint], T]) -> T | None:
    """One read of the processors' state at ``path``; None when there is none."""
    checkpoint = _open(path)
    if checkpoint is None:
        return None
    try:
        return read(checkpoint)
    finally:
        checkpoint.close()


def _dead_letters(args: argparse.Namespace) -> int:
    letters = _read(args.state, Checkpoint.dead_letters)
    if letters is None:
        return _fail(f"no processors state at {args.state}")
    for reason, body in letters[:args.limit]:
        print(f"{reason}: {body}")
    print(f"{len(letters)} dead letters")
    return 0


def _list(args: argparse.Namespace) -> int:
    alarms = _read(args.state, Checkpoint.alarms)
    if alarms is None:
        return _fail(f"no processors state at {args.state}")
    if args.json:
        print(json.dumps(alarms, indent=2))
        return 0
    for a in alarms:
        print(f"{a['state']:<16} {a['model']}/{a['alarm']} {a['key']} severity {a['severity']} since {a['since']}")
    return 0


def _command(args: argparse.Namespace) -> int:
    try:
        snooze_ms = int(TypeAdapter(Duration).validate_python(args.duration) * 1000) \
            if args.verb == "snooze" else 0
    except ValidationError:
        return _fail(f"--for: {args.duration!r} is not a duration (use e.g. 30m, 2h)")
    checkpoint = _open(args.state)
    if checkpoint is None:
        return _fail(f"no processors state at {args.state}")
    try:
        known = {(a["model"], a["alarm"], a["key"]) for a in checkpoint.alarms()}
        if (args.model, args.alarm, args.key) not in known:
            return _fail(f"no alarm {args.model}/{args.alarm} for {args.key}")
        command_id = checkpoint.issue(args.model, args.alarm, args.key, args.verb, snooze_ms)
    finally:
        checkpoint.close()
    print(f"{args.verb} queued as command {command_id}; the worker owning {args.key} applies it")
    return 0
