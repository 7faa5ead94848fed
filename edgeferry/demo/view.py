"""What the demo shows: a live table while it runs and a summary at the end (rich)."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from edgeferry.demo.run import DemoResult, DemoState


def live(state: DemoState) -> Group:
    table = Table(title=f"edgeferry demo — {state.elapsed:5.1f} s — {state.phase}", title_justify="left",
                  expand=False)
    for column in ("agent", "readings", "batches spooled", "acked", "spool depth", "peak", "link"):
        table.add_column(column, justify="left" if column in ("agent", "link") else "right")
    for track in state.agents:
        status = track.agent.status()
        link = str(status.get("sink", "state", "-"))
        table.add_row(track.thing, f"{status.get('agent', 'readings'):,}",
                      f"{status.get('agent', 'batches_spooled'):,}", f"{status.get('forwarder', 'acked'):,}",
                      f"{status.get('spool', 'depth'):,}", f"{track.peak_depth:,}",
                      Text(link, style="green" if link == "connected" else "yellow"))
    ledger = state.ledger
    fired = state.runner.snapshot().get("fired", 0) if state.runner else 0
    footer = Text(f"cloud: {ledger.unique:,} batches received, {ledger.duplicates:,} duplicates, "
                  f"{fired:,} rule firings")
    return Group(table, footer)


def summary(result: DemoResult) -> Group:
    table = Table(title="summary", title_justify="left")
    columns = ("agent", "readings polled", "batches spooled", "published", "acknowledged", "received",
               "duplicates", "peak spool", "lost")
    for column in columns:
        table.add_column(column, justify="left" if column == "agent" else "right")
    totals = [0] * (len(columns) - 1)
    by_device = {r.device: r for r in result.reconciliations}
    for track in result.state.agents:
        status = track.agent.status()
        row = by_device[track.thing]
        values = [int(status.get("agent", "readings")), int(status.get("agent", "batches_spooled")),
                  int(status.get("sink", "published")), int(status.get("forwarder", "acked")), row.received,
                  row.duplicates, track.peak_depth, row.missing]
        totals = [t + v for t, v in zip(totals, values, strict=True)]
        table.add_row(track.thing, *(f"{v:,}" for v in values))
    table.add_row("[bold]total", *(f"[bold]{v:,}" for v in totals))
    lost = result.lost
    outages = ", ".join(f"{a:.0f}–{b:.0f} s" for a, b in result.state.outages) or "none"
    verdict = Text(f"lost: {lost} — broker outage {outages}; every batch is counted by (device, epoch, seq)",
                   style="bold green" if lost == 0 else "bold red")
    return Group(table, verdict)
