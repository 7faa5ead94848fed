"""``edgeferry sim fleet``: run N simulated reefer trailers against the local IoT Core rig."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from edge_agent.config import validation_problems
from edge_agent.errors import ConfigError, EdgeferryError
from edge_agent.units import parse_duration

EXIT_LOSS = 3
"""Exit code of a run that lost batches, left some in spools, or did not recover from the storm."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trailers", type=int, required=True, help="how many trailers (agents) to run")
    parser.add_argument("--report-every", default="30s", help="reading interval (default 30s)")
    parser.add_argument("--batch-every", default="5m", help="bundle interval (default 5m)")
    parser.add_argument("--batch-form", choices=["full", "compact"], default="full",
                        help="envelope form: edgeferry.batch/1 (full) or /2 (compact)")
    parser.add_argument("--dir", type=Path, default=Path("fleet-run"),
                        help="run directory: identities, spools, report.json, plots (default ./fleet-run)")
    parser.add_argument("--duration", default=None, help="run this long, then wind down (default: until Ctrl-C)")
    parser.add_argument("--storm", metavar="AT:DOWN", default=None,
                        help="stop the broker AT into the run for DOWN, e.g. 2m:30s")
    parser.add_argument("--dead-zones", metavar="FRACTION:MIN-MAX", default=None,
                        help="that share of trailers loses coverage for MIN..MAX at a time, e.g. 0.1:2m-10m")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--rig", action="store_true", help="start a rig in the run directory (default)")
    where.add_argument("--broker-dir", type=Path, default=None,
                       help="use the rig running in this directory (edgeferry cloud up --dir D)")
    parser.add_argument("--identity", choices=["bulk", "provision"], default="bulk",
                        help="bulk: certificates from the rig's CA; provision: fleet provisioning by claim")
    parser.add_argument("--connect-in-flight", type=int, default=200,
                        help="trailers connecting at once at start (default 200)")
    parser.add_argument("--connect-jitter", default="1s", help="random delay before (re)connecting (default 1s)")
    parser.add_argument("--reconnect-max", default="10s", help="backoff ceiling of the MQTT client (default 10s)")
    parser.add_argument("--max-in-flight", type=int, default=2, help="unacknowledged publishes per trailer")
    parser.add_argument("--spool-workers", type=int, default=16,
                        help="SQLite threads shared by all spools (default 16)")
    parser.add_argument("--drain-within", default="2m", help="how long the final drain may take (default 2m)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--processes", type=int, default=1,
                        help="spread the trailers over this many processes (open-file limit, cores)")
    parser.add_argument("--no-dashboard", action="store_true", help="print one status line per sample instead")
    # one shard of a --processes run, driven over stdin/stdout by the process that started it
    parser.add_argument("--controlled", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--first", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--fleet-size", type=int, default=None, help=argparse.SUPPRESS)
    parser.set_defaults(func=run)


def fleet_config(args: argparse.Namespace) -> Any:
    """The :class:`FleetConfig` the arguments describe; :class:`ConfigError` lists every problem."""
    from simulators.fleet.config import DeadZones, FleetConfig, Storm

    try:
        document = {
            "trailers": args.trailers, "directory": args.dir.resolve(),
            "report_every": parse_duration(args.report_every), "batch_every": parse_duration(args.batch_every),
            "batch_form": args.batch_form,
            "duration": None if args.duration is None else parse_duration(args.duration),
            "storm": None if args.storm is None else Storm.parse(args.storm),
            "dead_zones": None if args.dead_zones is None else DeadZones.parse(args.dead_zones),
            "broker_dir": None if args.broker_dir is None else args.broker_dir.resolve(),
            "identity": args.identity, "connect_in_flight": args.connect_in_flight,
            "connect_jitter": parse_duration(args.connect_jitter),
            "reconnect_max": parse_duration(args.reconnect_max), "max_in_flight": args.max_in_flight,
            "spool_workers": args.spool_workers, "drain_within": parse_duration(args.drain_within),
            "seed": args.seed, "dashboard": not args.no_dashboard, "processes": args.processes,
            "first": args.first, "fleet_size": args.fleet_size,
        }
        return FleetConfig.model_validate(document)
    except ValidationError as exc:
        raise ConfigError("sim fleet", validation_problems(exc)) from None
    except ValueError as exc:
        raise EdgeferryError(str(exc).splitlines()[0]) from None


def run(args: argparse.Namespace) -> int:
    config = fleet_config(args)
    config.directory.mkdir(parents=True, exist_ok=True)
    if args.controlled:
        _log_to_file(config.directory / f"fleet-{config.first:05d}.log")
        return asyncio.run(_run_shard(config))
    _log_to_file(config.directory / "fleet.log")
    from simulators.fleet.plots import write_plots

    summary, samples = asyncio.run(_run(config))
    path = config.directory / "report.json"
    path.write_text(json.dumps(summary, indent=1) + "\n")
    plots = write_plots(config.directory, samples, summary["storm"])
    for bulky in ("timeline", "config"):
        summary.pop(bulky)
    if config.dashboard:
        print()  # the live table's last frame ends without a newline
    print(json.dumps(summary, indent=1))
    print(plots if isinstance(plots, str) else "plots: " + ", ".join(str(p) for p in plots))
    print(f"report: {path}")
    return 0 if summary["ok"] else EXIT_LOSS


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _run(config: Any) -> tuple[dict[str, Any], Any]:
    """The report (as written to report.json) and the samples of the run."""
    from simulators.fleet.dashboard import Dashboard
    from simulators.fleet.fleet import Fleet
    from simulators.fleet.monitor import FleetSample
    from simulators.fleet.shards import ShardedFleet

    stop = _stop_on_signals()

    def line(s: FleetSample) -> None:
        print(json.dumps(s.to_json()), flush=True)

    with contextlib.ExitStack() as stack:
        show = stack.enter_context(Dashboard(config.trailers)).show if config.dashboard else line
        if config.processes > 1:
            sharded = ShardedFleet(config, on_sample=show)
            return await sharded.run(stop), sharded.samples
        report = await Fleet(config, on_sample=show).run(stop)
        return report.to_json(), report.samples


async def _run_shard(config: Any) -> int:
    """One shard of a --processes run: samples and the final report path go out on stdout."""
    from simulators.fleet.control import Control
    from simulators.fleet.fleet import Fleet
    from simulators.fleet.monitor import FleetSample

    control = Control()
    await control.open()

    def line(s: FleetSample) -> None:
        control.send(s.to_json())

    report = await Fleet(config, on_sample=line, control=control).run(_stop_on_signals())
    path = config.directory / f"shard-{config.first:05d}.json"
    await asyncio.to_thread(path.write_text, json.dumps(report.to_json()) + "\n")
    control.send({"final": str(path)})
    return 0


def _log_to_file(path: Path) -> None:
    """Thousands of agents log a line each on a storm: into the run directory, not over the dashboard."""
    root = logging.getLogger()
    handler = logging.FileHandler(path)
    if root.handlers:
        handler.setFormatter(root.handlers[0].formatter)
    root.handlers[:] = [handler]
    print(f"logs: {path}", file=sys.stderr)
