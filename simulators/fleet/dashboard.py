"""The live view of a running fleet in the terminal (rich Live).

``lost`` while running is the batches the broker acknowledged that the cloud ledger has not
counted (it hovers near zero while deliveries are in transit); the exact count, from the spool
files, is in the final report.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from rich.console import Console
from rich.live import Live
from rich.table import Table

from simulators.fleet.monitor import FleetSample


class Dashboard:
    """Shows the latest sample; use as a context manager and pass :meth:`show` as the fleet's hook."""

    def __init__(self, trailers: int, console: Console | None = None) -> None:
        self.trailers = trailers
        self._peak_spooled = 0
        self._live = Live(self._render(None), console=console, refresh_per_second=2, transient=False)

    def __enter__(self) -> Self:
        self._live.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._live.__exit__(exc_type, exc, tb)

    def show(self, sample: FleetSample) -> None:
        self._live.update(self._render(sample))

    def _render(self, s: FleetSample | None) -> Table:
        table = Table(title=f"edgeferry fleet: {self.trailers} reefer trailers", show_header=True)
        for column in ("t", "connected", "dead zone", "spooled", "in flight", "acked", "reconnects/s",
                       "drained", "received", "dup", "lost", "CPU", "RSS"):
            table.add_column(column, justify="right")
        if s is None:
            table.add_row("starting", *[""] * 12)
            return table
        self._peak_spooled = max(self._peak_spooled, s.spooled)
        drained = 100.0 if self._peak_spooled == 0 else 100.0 * (1 - s.spooled / self._peak_spooled)
        table.add_row(f"{s.t:.0f}s", f"{s.connected}", f"{s.offline}", f"{s.spooled}", f"{s.in_flight}",
                      f"{s.acked}", f"{s.connects_per_s:.0f}", f"{drained:.0f}%", f"{s.received}",
                      f"{s.duplicates}", f"{max(0, s.acked - s.received - s.duplicates)}", f"{s.cpu * 100:.0f}%", f"{s.rss_mb:.0f} MB")
        return table
