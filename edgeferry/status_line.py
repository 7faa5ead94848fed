"""The live status line of a running agent (rich), or a periodic log line when not on a terminal."""

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


def render(status: AgentStatus, rates: dict[str, float]) -> Text:
    """One line: points/s, errors, batches, spool depth, link state."""
    bad = status.get("agent", "bad_readings")
    line = Text()
    line.append(f"{status.thing} ", style="bold")
    line.append(f"{rates.get('readings', 0):,.0f} pts/s  ")
    line.append(f"bad {bad:,}  ", style="red" if bad else "")
    line.append(f"errors {status.total('timeouts') + status.total('exceptions'):,}  ")
    line.append(f"batches {status.get('agent', 'batches_spooled'):,} spooled / "
                f"{status.get('forwarder', 'acked'):,} acked  ")
    line.append(f"spool {status.get('spool', 'depth'):,}  ")
    dropped = int(status.get("spool", "dropped"))
    if dropped:  # the spool lost batches by its policy or a full disk: say so where the user looks
        full = int(status.get("spool", "disk_full"))
        line.append(f"dropped {dropped:,}{f' ({full:,} disk full)' if full else ''}  ", style="red")
    state = str(status.get("sink", "state", "-"))
    line.append(f"link {state}", style="green" if state == "connected" else "yellow")
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
                log.info("status", extra={"line": render(status, rates).plain})
        with Live(console=Console(stderr=True), auto_refresh=False, transient=True) as live:
            while True:
                status = self.agent.status()
                live.update(render(status, self.meter.update(time.monotonic(), _sample(status))),
                            refresh=True)
                await asyncio.sleep(self.interval)

    def final(self) -> None:
        status = self.agent.status()
        rate = status.get("agent", "readings") / max(status.uptime, 1e-9)
        Console(stderr=True).print(render(status, {"readings": rate}))
