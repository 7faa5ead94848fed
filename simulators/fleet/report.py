"""The run's report: what the fleet did, how it came back, and whether anything was lost.

:meth:`FleetReport.to_json` is ``report.json`` in the run directory, for CI; :func:`steady_state` condenses the samples of a
quiet stretch into the per-trailer cost figures the benchmark prints.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from simulators.fleet.accounting import FleetAccount
from simulators.fleet.config import FleetConfig
from simulators.fleet.ledger import Ledger
from simulators.fleet.monitor import FleetSample
from simulators.fleet.schedule import LinkEvent
from simulators.fleet.storm import Recovery


@dataclass(frozen=True, slots=True)
class StartReport:
    identities_s: float
    connect_s: float
    """From the first trailer started to the last one connected (paced)."""
    connected: int


@dataclass(frozen=True, slots=True)
class SteadyState:
    """Averages over the samples of the ``run`` phase: all started, no storm under way, not ending."""

    seconds: float
    cpu_cores: float
    cpu_ms_per_trailer_s: float
    """CPU milliseconds per trailer per second of run."""
    rss_mb: float
    rss_kb_per_trailer: float
    worst_scan_lateness: float
    batches_per_s: float

    def to_json(self) -> dict[str, float]:
        return {k: round(getattr(self, k), 4) for k in self.__slots__}


def steady_state(samples: Sequence[FleetSample], trailers: int, baseline_rss_mb: float = 0.0) -> SteadyState | None:
    """The steady stretch: samples of the ``run`` phase (no start, storm or wind-down); None if
    there are too few."""
    quiet = [s for s in samples if s.phase == "run"]
    if len(quiet) < 2:
        return None
    seconds = quiet[-1].t - quiet[0].t
    if seconds <= 0:
        return None
    cpu = statistics.fmean(s.cpu for s in quiet[1:])
    rss = statistics.fmean(s.rss_mb for s in quiet)
    return SteadyState(
        seconds=seconds, cpu_cores=cpu, cpu_ms_per_trailer_s=cpu * 1000 / trailers, rss_mb=rss,
        rss_kb_per_trailer=(rss - baseline_rss_mb) * 1024 / trailers,
        worst_scan_lateness=max(s.scan_lateness for s in quiet),
        batches_per_s=(quiet[-1].acked - quiet[0].acked) / seconds)


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


@dataclass(frozen=True, slots=True)
class FleetReport:
    """Everything ``report.json`` holds."""

    config: dict[str, Any]
    start: StartReport
    batches: FleetAccount
    age_at_arrival: dict[str, dict[str, float | None]]
    """Per run phase: how old batches were when the ledger got them (arrival minus batch end)."""
    metering: dict[str, float | None]
    """5 KB units per distinct batch and bytes per reading, as the ledger received them."""
    steady: SteadyState | None
    storm: dict[str, Any] | None
    dead_zones: dict[str, int]
    connections: dict[str, int]
    final_drain_s: float | None
    samples: Sequence[FleetSample]

    @classmethod
    def build(cls, config: FleetConfig, start: StartReport, samples: Sequence[FleetSample],
              batches: FleetAccount, ledger: Ledger, recovery: Recovery | None, events: Sequence[LinkEvent],
              final_drain_s: float | None, *, connects: int, connect_failures: int, retried: int,
              baseline_rss_mb: float = 0.0) -> FleetReport:
        return cls(
            config=json.loads(config.model_dump_json()), start=start, batches=batches,
            age_at_arrival={phase: {"p50_s": _percentile(ages, 0.5), "p99_s": _percentile(ages, 0.99),
                                    "max_s": _percentile(ages, 1.0), "batches": len(ages)}
                            for phase, ages in ledger.ages.items()},
            metering=_metering(ledger),
            steady=steady_state(samples, config.trailers, baseline_rss_mb),
            storm=None if recovery is None else recovery.to_json(),
            dead_zones={"zones": sum(1 for e in events if not e.online),
                        "trailers": len({e.trailer for e in events})},
            connections={"connects": connects, "reconnects": connects - start.connected,
                         "connect_failures": connect_failures, "sends_retried": retried},
            final_drain_s=final_drain_s, samples=samples)

    @property
    def ok(self) -> bool:
        """Nothing lost, nothing left in a spool, and the storm (if any) fully recovered."""
        storm_ok = self.storm is None or self.storm["all_back_after"] is not None
        return self.batches.lost == 0 and self.batches.pending == 0 and storm_ok

    def to_json(self) -> dict[str, Any]:
        b = self.batches
        return {
            "ok": self.ok, "config": self.config,
            "start": {"identities_s": round(self.start.identities_s, 2),
                      "connect_s": round(self.start.connect_s, 2), "connected": self.start.connected},
            "batches": {"generated": b.generated, "received": b.received, "duplicated": b.duplicates,
                        "lost": b.lost, "pending": b.pending, "dropped": b.dropped, "rejected": b.rejected,
                        "carried_over": b.carried_over, "trailers_with_loss": b.losing[:20]},
            "age_at_arrival": self.age_at_arrival, "metering": self.metering,
            "steady": None if self.steady is None else self.steady.to_json(),
            "storm": self.storm, "dead_zones": self.dead_zones, "connections": self.connections,
            "final_drain_s": None if self.final_drain_s is None else round(self.final_drain_s, 2),
            "timeline": [s.to_json() for s in self.samples],
        }


def _metering(ledger: Ledger) -> dict[str, float | None]:
    batches = ledger.received
    return {"units": ledger.metering_units, "units_per_batch": round(ledger.metering_units / batches, 3) if batches
            else None,
            "bytes_per_reading": round(ledger.payload_bytes / ledger.readings, 1) if ledger.readings else None}
