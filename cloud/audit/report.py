"""The audit export's readable report: a PDF with a summary page and the temperature against the
setpoint over the period, excursions, door openings, gaps and late-arrived spans marked.

Needs matplotlib (``pip install 'edgeferry[plots]'``). Long periods are drawn as a min/max band
per time bucket, so two years of 30-second readings plot as fast as a day.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from cloud.audit.export import ExportSpec, Series

BUCKETS = 1500
"""Time buckets of the drawn band; below this many readings every reading is drawn."""
GRID = 4000
"""Cells of the period in which excursions, door openings, gaps and late spans are shaded."""


class ReportUnavailable(RuntimeError):
    """matplotlib is not installed."""


def write_report(path: Path, spec: ExportSpec, series: Series, *,
                 excursions: Sequence[tuple[int, int, float, float]], gaps: Sequence[tuple[int, int]],
                 late: Sequence[tuple[int, int]], summary: Mapping[str, Any]) -> None:
    """Write the PDF report of one export."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot as plt
        from matplotlib.backends.backend_pdf import PdfPages
    except ImportError:
        raise ReportUnavailable("the PDF report needs matplotlib: pip install 'edgeferry[plots]' "
                                "(or export with --no-report)") from None

    with PdfPages(path, metadata={"Title": f"Temperature record {spec.device}", "Creator": "edgeferry"}) as pdf:
        page = plt.figure(figsize=(8.27, 11.69))
        page.text(0.08, 0.95, f"Temperature record: {spec.device}", fontsize=16, weight="bold", va="top")
        lines = [f"Period: {_when(spec.start)} to {_when(spec.end)} (UTC)",
                 f"Excursion: {spec.temperature} above {spec.setpoint} + {spec.threshold:g} °C",
                 "", *(f"{k.replace('_', ' ')}: {v}" for k, v in summary.items() if k != "files"),
                 "", "Excursions (first 25):",
                 *(f"  {_when(s)} – {_when(e)}  max {m:.1f} °C (setpoint {sp:.1f})"
                   for s, e, m, sp in excursions[:25]),
                 "", "Gaps with no record (first 15):", *(f"  {_when(s)} – {_when(e)}" for s, e in gaps[:15]),
                 "", "Arrived late from the device's spool (first 15):",
                 *(f"  {_when(s)} – {_when(e)}" for s, e in late[:15])]
        page.text(0.08, 0.9, "\n".join(lines), fontsize=8.5, va="top", family="monospace")
        pdf.savefig(page)
        plt.close(page)

        figure, axes = plt.subplots(figsize=(11.69, 8.27))
        period = (spec.start, spec.end)
        _band(axes, series.temp_t, series.temp_v, label=spec.temperature)
        if len(series.setpoint_t):
            times = np.concatenate((series.setpoint_t, [spec.end]))
            values = np.concatenate((series.setpoint_v, series.setpoint_v[-1:]))
            axes.step(_dates(times), values, where="post", color="tab:green", label=spec.setpoint)
            axes.step(_dates(times), values + spec.threshold, where="post", color="tab:green",
                      linestyle=":", label=f"setpoint + {spec.threshold:g}")
        _spans(axes, [(s, e) for s, e, _, _ in excursions], "tab:red", 0.25, "excursion", period)
        _spans(axes, _door_open(series), "tab:orange", 0.12, "door open", period)
        _spans(axes, gaps, "grey", 0.35, "no record", period)
        _spans(axes, late, "tab:purple", 0.12, "arrived late", period)
        axes.set_title(f"{spec.device}: temperature against setpoint")
        axes.set_ylabel("°C")
        axes.legend(loc="upper right", fontsize=8)
        figure.autofmt_xdate()
        pdf.savefig(figure)
        plt.close(figure)


def _band(axes: Any, times: np.ndarray[Any, Any], values: np.ndarray[Any, Any], *, label: str) -> None:
    if len(times) <= BUCKETS * 2:
        axes.plot(_dates(times), values, color="tab:blue", linewidth=0.8, label=label)
        return
    edges = np.linspace(times[0], times[-1] + 1, BUCKETS + 1)
    bucket = np.searchsorted(edges, times, side="right") - 1
    present = np.unique(bucket)
    low = np.full(BUCKETS, np.nan)
    high = np.full(BUCKETS, np.nan)
    np.fmin.at(low, bucket, values)
    np.fmax.at(high, bucket, values)
    middle = ((edges[:-1] + edges[1:]) / 2)[present]
    axes.fill_between(_dates(middle), low[present], high[present], color="tab:blue", alpha=0.5,
                      linewidth=0, label=f"{label} (min–max)")


def _door_open(series: Series) -> list[tuple[int, int]]:
    spans, opened = [], None
    for t, value in zip(series.door_t.tolist(), series.door_v.tolist(), strict=True):
        if value > 0.5 and opened is None:
            opened = t
        elif value <= 0.5 and opened is not None:
            spans.append((opened, t))
            opened = None
    if opened is not None and len(series.door_t):
        spans.append((opened, int(series.door_t[-1])))
    return spans


def _spans(axes: Any, spans: Sequence[tuple[int, int]], color: str, alpha: float, label: str,
           period: tuple[int, int]) -> None:
    """Shade the spans as one artist over a grid of the period: cost independent of their number;
    a span shorter than a grid cell still shades its cell."""
    if not spans:
        return
    grid = np.linspace(period[0], period[1], GRID + 1)
    marks = np.zeros(GRID + 1, dtype=np.int64)
    starts = np.clip(np.searchsorted(grid, [s for s, _ in spans], side="right") - 1, 0, GRID - 1)
    ends = np.clip(np.searchsorted(grid, [e for _, e in spans], side="left"), starts + 1, GRID)
    np.add.at(marks, starts, 1)
    np.add.at(marks, ends, -1)
    covered = np.cumsum(marks) > 0
    axes.fill_between(_dates(grid), 0, 1, where=covered, step="post", color=color, alpha=alpha,
                      linewidth=0, transform=axes.get_xaxis_transform(), label=label)


def _dates(ms: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return np.asarray(ms, dtype="int64").astype("datetime64[ms]")


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
