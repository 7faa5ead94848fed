"""PNG plots of a run (optional extra ``plots``: matplotlib): connections and spool depth over
time, and how the fleet came back after the storm."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from simulators.fleet.monitor import FleetSample

logger = logging.getLogger(__name__)

MISSING = "plots skipped: matplotlib is not installed (pip install 'edgeferry[plots]')"


def write_plots(directory: Path, samples: Sequence[FleetSample], storm: dict[str, Any] | None) -> list[Path] | str:
    """Write ``connections.png`` and ``spool.png`` (and ``storm.png`` after a storm); returns the
    paths, or a note saying why there are none."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot as plt
    except ImportError:
        return MISSING
    if not samples:
        return "plots skipped: no samples"
    t = [s.t for s in samples]
    paths = []
    figure, left = plt.subplots(figsize=(10, 4))
    left.plot(t, [s.connected for s in samples], label="connected")
    left.plot(t, [s.offline for s in samples], label="in a dead zone")
    left.set_xlabel("seconds")
    left.set_ylabel("trailers")
    right = left.twinx()
    right.bar(t, [s.connects_per_s for s in samples], width=0.8, alpha=0.3, color="tab:red",
              label="connects/s")
    right.set_ylabel("connects per second")
    _mark_storm(left, storm)
    figure.legend(loc="lower right")
    paths.append(_save(figure, directory / "connections.png"))
    figure, axes = plt.subplots(figsize=(10, 4))
    axes.plot(t, [s.spooled for s in samples], label="spooled batches")
    axes.plot(t, [s.in_flight for s in samples], label="in flight")
    axes.set_xlabel("seconds")
    axes.set_ylabel("batches")
    _mark_storm(axes, storm)
    axes.legend()
    paths.append(_save(figure, directory / "spool.png"))
    if storm and storm.get("reconnects_per_second"):
        counts = storm["reconnects_per_second"]
        figure, axes = plt.subplots(figsize=(10, 4))
        axes.bar(range(len(counts)), counts, width=0.9)
        axes.set_xlabel("seconds after the broker returned")
        axes.set_ylabel("trailers reconnected")
        axes.set_title("storm: reconnections spread by jittered backoff")
        paths.append(_save(figure, directory / "storm.png"))
    return paths


def _mark_storm(axes: Any, storm: dict[str, Any] | None) -> None:
    if storm:
        axes.axvline(storm["returned_at"], color="grey", linestyle="--", label="broker back")


def _save(figure: Any, path: Path) -> Path:
    from matplotlib import pyplot as plt

    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
