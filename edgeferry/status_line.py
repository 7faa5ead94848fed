"""The live status of a running agent (rich, three lines), or a periodic log line when not on a terminal."""

from __future__ import annotations

import asyncio
import logging
import time

from rich.console import Console
from rich.live import Live
from rich.text import Text

from edge_agent.status import AgentStatus, RateMeter
from edge_agent.supervisor import Agent

log = logging.getLogger("edgeferry.status")


ERROR_COUNTERS = ("timeouts", "exceptions", "decode_errors", "connect_failures", "connect_errors")
"""Source counters that mean a device did not give what was asked (Modbus and OPC-UA)."""


def render(status: AgentStatus, rates: dict[str, float], *, stopped: bool = False) -> Text:
    """Three lines within 80 columns: readings/s, bad readings and errors; batches, spool depth and
    what the spool dropped; the link's state and problem, and devices that are down.

    ``stopped``: the agent has stopped (its final status), whatever the parts last said.
    Subscribed OPC-UA points report changes only, so a station with subscriptions shows fewer
    readings per second than it has points; the line says "(on change)" when it has subscriptions.
    """
    bad = status.get("agent", "bad_readings")
    errors = sum(status.total(name) for name in ERROR_COUNTERS)
    sources = {k.removeprefix("source."): v for k, v in status.parts.items() if k.startswith("source.")}
    line = Text()
    line.append(f"{status.thing} ", style="bold")
    line.append(f"{rates.get('readings', 0):,.0f} readings/s")
    if any(part.get("notifications") for part in sources.values()):
        line.append(" (on change)", style="dim")
    line.append(f"  bad {bad:,}", style="red" if bad else "")
    line.append(f"  errors {errors:,}", style="red" if errors else "")
    line.append(f"\n  batches {status.get('agent', 'batches_spooled'):,} spooled / "
                f"{status.get('forwarder', 'acked'):,} acked  spool {status.get('spool', 'depth'):,}")
    dropped = int(status.get("spool", "dropped"))
    if dropped:  # the spool lost batches by its policy or a full disk: say so where the user looks
        full = int(status.get("spool", "disk_full"))
        line.append(f"  dropped {dropped:,}{f' ({full:,} disk full)' if full else ''}", style="red")
    state = "stopped" if stopped else str(status.get("sink", "state", "-"))
    problem = str(status.get("sink", "link_problem", ""))
    line.append(f"\n  link {state}" + (f" ({problem})" if problem and state in ("waiting", "connecting") else ""),
                style="green" if state == "connected" else "yellow")
    down = [name for name, part in sources.items() if part.get("connected", 1) == 0]
    if down and state != "stopped":  # once stopped, every device is disconnected on purpose
        line.append(f"  down: {', '.join(down)}", style="red")
    return line


def _sample(status: AgentStatus) -> dict[str, float]:
    return {"readings": float(status.get("agent", "readings"))}


class StatusLine:
    def __init__(self, agent: Agent, *, live: bool, interval: float = 1.0) -> None:
        self.agent = agent
        self.live = live
        self.interval = interval if live else max(interval, agent.config.status.interval * 6)
        self.meter = RateMeter()

    async def run(self) -> None:
        await self.agent.running.wait()
        self.meter.update(time.monotonic(), _sample(self.agent.status()))
        if not self.live:
            while True:
                await asyncio.sleep(self.interval)
                status = self.agent.status()
                rates = self.meter.update(time.monotonic(), _sample(status))
                log.info("status", extra={"line": " ".join(render(status, rates).plain.split("\n"))})
        with Live(console=Console(stderr=True), auto_refresh=False, transient=True) as live:
            while True:
                status = self.agent.status()
                live.update(render(status, self.meter.update(time.monotonic(), _sample(status))),
                            refresh=True)
                await asyncio.sleep(self.interval)

    def final(self) -> None:
        status = self.agent.status()
        rate = status.get("agent", "readings") / max(status.uptime, 1e-9)
        Console(stderr=True).print(render(status, {"readings": rate}, stopped=True))
