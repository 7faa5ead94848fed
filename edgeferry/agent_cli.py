"""``edgeferry agent check|run``: validate a config and show its plan, or run the agent.

The command lives in the application layer because running an agent may involve fleet
provisioning (``provisioning``) and the Greengrass adapters (``components``), which the
``edge_agent`` library must not import.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from edge_agent import systemd
from edge_agent.check import ConfigSummary, summarize
from edge_agent.config import AgentConfig, load_config
from edge_agent.identity import Identity
from edge_agent.interfaces import Sink
from edge_agent.publish.config import MqttPublishConfig
from edge_agent.reload import reload_on_signal
from edge_agent.supervisor import Agent, SinkFactory
from edgeferry.status_line import StatusLine

log = logging.getLogger(__name__)


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="agent_command", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="validate a config file and show its read plan and traffic")
    check.add_argument("--config", type=Path, required=True)
    check.add_argument("--plan", action="store_true", help="list every Modbus request of the read plan")
    check.set_defaults(func=_check)
    run = sub.add_parser("run", help="run the agent until interrupted")
    run.add_argument("--config", type=Path, help="agent config file (YAML); SIGHUP rereads it")
    run.add_argument("--greengrass", action="store_true",
                     help="run as a Greengrass component: configuration comes over IPC")
    run.add_argument("--duration", type=float, help="stop after this many seconds")
    run.add_argument("--no-status", action="store_true", help="no live status line")
    run.set_defaults(func=_run)


def _check(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    summary = summarize(config)
    _print_summary(Console(), config, summary, show_plan=args.plan)
    return 0


def _print_summary(console: Console, config: AgentConfig, summary: ConfigSummary, *,
                   show_plan: bool) -> None:
    console.print(f"[bold]{config.thing}[/] site={config.site} asset_type={config.asset_type}: "
                  f"config OK")
    table = Table(show_edge=False, pad_edge=False)
    for column in ("device", "type", "points", "reads/cycle", "poll"):
        table.add_column(column, justify="right" if column in ("points", "reads/cycle") else "left")
    for device in summary.devices:
        table.add_row(device.name, device.kind, f"{device.points:,}", f"{device.reads_per_cycle:,}",
                      f"{device.poll_interval:g} s")
    table.add_row("[bold]total", "", f"[bold]{summary.points:,}", f"[bold]{summary.reads_per_cycle:,}", "")
    console.print(table)
    for device in summary.devices:
        lines = device.plan if show_plan else device.plan[:3]
        console.print(f"[dim]{device.name} plan:[/] " + ("; ".join(lines) if lines else "-")
                      + ("" if show_plan or len(device.plan) <= 3
                         else f"; ... ({len(device.plan) - 3} more, --plan lists all)"))
    console.print(
        f"reported values after aggregation: ~{summary.quiet_reports_per_second:,.1f}/s "
        f"(deadband points quiet) to ~{summary.reports_per_second:,.1f}/s (changing every poll); "
        f"at most ~{summary.batches_per_day:,.0f} batches/day of ~{summary.batch_bytes:,} B "
        f"(~{summary.metering_units_per_day:,.0f} metering units of 5 KB/day)")
    console.print(f"spool: {config.spool.type}; publish: {config.publish.type}")


def _run(args: argparse.Namespace) -> int:
    if args.greengrass:
        from components.fieldbus_gateway import run_component

        return run_component()
    if args.config is None:
        from edge_agent.errors import EdgeferryError

        raise EdgeferryError("agent run needs --config FILE (or --greengrass)")
    config = load_config(args.config)
    show_status = not args.no_status and sys.stderr.isatty()
    return asyncio.run(run_agent(config, duration=args.duration, show_status=show_status,
                                 config_path=args.config))


async def sink_factory_for(config: AgentConfig) -> SinkFactory:
    """Resolve the device identity once (provisioning it by claim at first start) and return the
    factory that builds the sink for a configuration."""
    identity: Identity | None = None
    if isinstance(config.publish, MqttPublishConfig):
        identity = await resolve_identity(config, config.publish)

    def build(current: AgentConfig) -> Sink:
        return current.publish.build(identity)

    return build


async def resolve_identity(config: AgentConfig, publish: MqttPublishConfig) -> Identity:
    """Load the identity store; with a claim configured, provision first if the store is empty."""
    if config.identity.claim is not None:
        from provisioning.device import ensure_identity

        return await ensure_identity(config.identity, endpoint=publish.endpoint, port=publish.port,
                                     thing_hint=config.thing)
    return Identity.load(config.identity, config.thing)


async def run_agent(config: AgentConfig, *, duration: float | None = None,
                    show_status: bool = False, config_path: Path | None = None) -> int:
    """Run one agent until SIGINT/SIGTERM or ``duration`` seconds; SIGHUP rereads ``config_path``."""
    agent = Agent.from_config(config, await sink_factory_for(config))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    assert main is not None

    def on_signal(sig: signal.Signals) -> None:
        if not stop.is_set():
            log.info("signal_received", extra={"signal": sig.name, "note": "stopping; "
                     "send it again to stop at once (spooled batches are kept either way)"})
            stop.set()
        else:
            log.warning("stopping_now", extra={"signal": sig.name})
            main.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)
    reloading = reload_on_signal(agent, config_path) if config_path is not None else None
    if duration is not None:
        loop.call_later(duration, stop.set)
    status = StatusLine(agent, live=show_status)
    display = asyncio.create_task(status.run())
    supervised = asyncio.create_task(_tell_systemd(agent))
    try:
        await agent.run(stop)
    except asyncio.CancelledError:
        if main.cancelling() == 0 or not stop.is_set():
            raise
        return 130  # second signal: the spool is durable, nothing it acknowledged is lost
    finally:
        if reloading is not None:
            reloading.cancel()
        for task in (display, supervised):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        status.final()
    return 0


async def _tell_systemd(agent: Agent) -> None:
    """Under systemd (``Type=notify``): READY once the pipeline runs, then watchdog keep-alives
    from the event loop, so a wedged agent is restarted."""
    await agent.running.wait()
    systemd.notify("READY=1")
    interval = systemd.watchdog_interval()
    while interval is not None:
        systemd.notify("WATCHDOG=1")
        await asyncio.sleep(interval)
