"""``edgeferry demo``: the whole data path end to end on embedded defaults (see :mod:`.run`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
from pathlib import Path

from rich.console import Console
from rich.live import Live


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", type=Path, default=Path(".demo"), help="run directory (recreated)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of polling (default 60)")
    parser.add_argument("--outage", type=float, default=15.0, help="seconds the broker is down (0: none)")
    parser.add_argument("--reefers", type=int, default=3, help="reefer trailer agents (default 3)")
    parser.set_defaults(func=_demo)


def _log_to_file(path: Path) -> None:
    """Logs go to a file in the run directory, so they do not tear the live display."""
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    handler = logging.FileHandler(path, mode="w")
    handler.setFormatter(root.handlers[0].formatter if root.handlers else None)
    root.handlers[:] = [handler]


def _demo(args: argparse.Namespace) -> int:
    from edgeferry.demo.run import DemoOptions, run_demo
    from edgeferry.demo.view import live, summary

    console = Console()
    if not console.is_terminal:  # logs and CI: wide enough for the summary's nine columns
        console = Console(width=130)
    options = DemoOptions(run_dir=args.dir.resolve(), duration=args.duration, outage=args.outage,
                          reefers=args.reefers)
    if options.run_dir.exists():
        shutil.rmtree(options.run_dir)
    _log_to_file(options.run_dir / "demo.log")
    with Live(console=console, auto_refresh=False, transient=False) as display:
        result = asyncio.run(run_demo(options, lambda state: display.update(live(state), refresh=True)))
    console.print(summary(result))
    for line in result.state.alarms:
        console.print(line)
    console.print(f"run directory: {options.run_dir} (cloud stores under cloud/, agents under agents/)")
    return 0 if result.lost == 0 else 1
