"""What the demo shows: a live table on a terminal, progress lines elsewhere, and a summary at the
end (rich). Everything fits 80 columns: the summary has one column per agent (a metric a row), and
agents that do not fit go to a further table below."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from rich import box
from rich.console import Console, Group, RenderableType
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from edge_agent.status import AgentStatus
from edgeferry.demo.run import AgentTrack, DemoResult, DemoState

PROGRESS_EVERY = 5.0
"""Seconds between two progress lines when the output is not a terminal."""


def _fired(state: DemoState) -> int:
    return int(state.runner.snapshot().get("fired", 0)) if state.runner else 0


def live(state: DemoState) -> Group:
    table = Table(title=f"edgeferry demo — {state.elapsed:5.1f} s — {state.phase}", title_justify="left",
                  expand=False, box=box.SIMPLE_HEAD)
    for column in ("agent", "readings", "spooled", "acked", "spool", "peak", "link"):
        table.add_column(column, justify="left" if column in ("agent", "link") else "right")
    for track in state.agents:
        status = track.agent.status()
        link = str(status.get("sink", "state", "-"))
        table.add_row(track.thing, f"{status.get('agent', 'readings'):,}",
                      f"{status.get('agent', 'batches_spooled'):,}", f"{status.get('forwarder', 'acked'):,}",
                      f"{status.get('spool', 'depth'):,}", f"{track.peak_depth:,}",
                      Text(link, style="green" if link == "connected" else "yellow"))
    ledger = state.ledger
    footer = Text(f"cloud: {ledger.unique:,} batches received, {ledger.duplicates:,} duplicates, "
                  f"{_fired(state):,} rule firings")
    return Group(table, footer)


def progress_line(state: DemoState) -> str:
    """The figures in one line of at most 80 columns, for logs and CI where a table cannot redraw."""
    statuses = [t.agent.status() for t in state.agents]

    def total(part: str, name: str) -> int:
        return sum(int(s.get(part, name)) for s in statuses)

    connected = sum(1 for s in statuses if s.get("sink", "state") == "connected")
    return (f"{state.elapsed:5.1f} s  readings {total('agent', 'readings'):,}  "
            f"spooled {total('agent', 'batches_spooled'):,}  acked {total('forwarder', 'acked'):,}  "
            f"spool {total('spool', 'depth'):,}  links {connected}/{len(statuses)}  "
            f"cloud {state.ledger.unique:,}")


class ProgressLines:
    """An ``on_tick`` that prints each new phase, and :func:`progress_line` every few seconds."""

    def __init__(self, console: Console, every: float = PROGRESS_EVERY,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.console = console
        self.every = every
        self._clock = clock
        self._phase = ""
        self._printed = -every

    def __call__(self, state: DemoState) -> None:
        now = self._clock()
        if state.phase != self._phase:
            self._phase = state.phase
            self.console.print(f"{state.elapsed:5.1f} s  {state.phase}", highlight=False)
        if state.agents and now - self._printed >= self.every:
            self._printed = now
            self.console.print(progress_line(state), highlight=False)


ROWS = ("readings polled", "batches spooled", "published", "acknowledged", "received (cloud)",
        "duplicates", "peak spool depth", "lost")
"""The summary's rows. The total of "peak spool depth" is left empty: peaks of different agents
come at different moments, so their sum is no depth the fleet ever had."""


def _column(track: AgentTrack, result: DemoResult) -> list[int]:
    status: AgentStatus = track.agent.status()
    row = next(r for r in result.reconciliations if r.device == track.thing)
    return [int(status.get("agent", "readings")), int(status.get("agent", "batches_spooled")),
            int(status.get("sink", "published")), int(status.get("forwarder", "acked")), row.received,
            row.duplicates, track.peak_depth, row.missing]


def _header(thing: str) -> str:
    """``pump-station-RS01`` -> ``pump-station`` over ``RS01``: agent columns stay narrow."""
    kind, _, serial = thing.rpartition("-")
    return f"{kind}\n{serial}" if kind else thing


def _table(title: str, columns: Sequence[tuple[str, list[int]]], total: list[int] | None) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("")
    for header, _ in columns:
        table.add_column(header, justify="right")
    if total is not None:
        table.add_column("total", justify="right", style="bold")
    for i, label in enumerate(ROWS):
        cells = [f"{values[i]:,}" for _, values in columns]
        if total is not None:
            cells.append("" if label == "peak spool depth" else f"{total[i]:,}")
        table.add_row(label, *cells)
    return table


def summary(result: DemoResult, console: Console) -> Group:
    """One column per agent and a total, in as many tables as ``console``'s width needs."""
    columns = [(_header(t.thing), _column(t, result)) for t in result.state.agents]
    total = [sum(values[i] for _, values in columns) for i in range(len(ROWS))]
    groups: list[list[tuple[str, list[int]]]] = [[]]
    for column in columns:
        if groups[-1] and not _fits(console, _table("", [*groups[-1], column], None)):
            groups.append([])
        groups[-1].append(column)
    tables = [_table("summary" if i == 0 else "", group, None) for i, group in enumerate(groups)]
    with_total = _table("summary" if len(groups) == 1 else "", groups[-1], total)
    if _fits(console, with_total):
        tables[-1] = with_total
    else:
        tables.append(_table("", [], total))
    lost = result.lost
    outages = ", ".join(f"{a:.0f}–{b:.0f} s" for a, b in result.state.outages) or "none"
    verdict = Text(f"lost: {lost} — broker outage {outages}; every batch is counted by "
                   "(device, epoch, seq)", style="bold green" if lost == 0 else "bold red")
    return Group(*tables, verdict)


def _fits(console: Console, renderable: RenderableType) -> bool:
    """Whether ``renderable`` at its natural width (unbounded, not squeezed) fits the console."""
    natural = Measurement.get(console, console.options.update_width(10_000), renderable).maximum
    return natural <= console.width
