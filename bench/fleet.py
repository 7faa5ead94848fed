"""A fleet of simulated reefer trailers at scale: steady state, a broker storm, nothing lost.

Each trailer is a real edge agent (aggregator, SQLite spool, awscrt MQTT 5 client with its own
certificate and mTLS connection) in one Python process; the broker (Mosquitto, the local IoT Core
rig) runs on the same machine. One run measures, side by side:

1. start: identities issued, spools opened and connections made at a paced rate;
2. steady state: readings every 30 s, 5-minute raw bundles, alarms at once: CPU (cores) and RSS
   of the simulator, CPU per trailer, the broker's CPU apart, each batch's age when the cloud
   ledger got it (arrival minus its newest reading) and how late the fleet clock ran;
3. a storm: the broker stops for a while and comes back; how long until every trailer is
   connected again, reconnects per second, and the spool backlog drained;
4. the ledger: batches generated (from the spool files), received, duplicated, lost.

    .venv/bin/python bench/fleet.py [--quick] [--trailers N] [--duration D] [--storm AT:DOWN]

``--quick``: 1,000 trailers in compressed time (reports every 5 s, bundles every 30 s) for a
minute with a storm. The machine is shared: CPU figures are noisy, read them as +-30 %.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import psutil
from rich.console import Console
from rich.table import Table

from edge_agent.units import parse_duration
from simulators.fleet import Fleet, FleetConfig, Storm
from simulators.fleet.limits import processes_needed
from simulators.fleet.monitor import FleetSample
from simulators.fleet.shards import ShardedFleet

BROKER_NICE = -5
"""The rig's broker stands in for IoT Core, which does not share the simulator's CPU: on this
shared box it gets a higher priority than the simulator and the other work (when allowed)."""


class BrokerMeter:
    """The broker's CPU per sample phase (it runs in its own process, restarted by a storm)."""

    def __init__(self, rig_dir: Path) -> None:
        self._rig_dir = rig_dir
        self._process: psutil.Process | None = None
        self._last: float | None = None
        self.by_phase: dict[str, list[float]] = {}

    def on_sample(self, sample: FleetSample) -> None:
        try:
            if self._process is None:
                pid = json.loads((self._rig_dir / "rig.json").read_text())["pid"]
                self._process = psutil.Process(pid)
                with contextlib.suppress(psutil.Error):
                    self._process.nice(BROKER_NICE)
            times = self._process.cpu_times()
        except (OSError, KeyError, ValueError, psutil.Error):
            self._process, self._last = None, None  # restarted in a storm: a new process
            return
        cpu = float(times.user + times.system)
        if self._last is not None and cpu >= self._last:
            self.by_phase.setdefault(sample.phase, []).append(cpu - self._last)
        self._last = cpu

    def cores(self, phase: str, interval: float) -> float | None:
        values = self.by_phase.get(phase)
        return sum(values) / (len(values) * interval) if values else None


def run(config: FleetConfig) -> tuple[dict[str, Any], BrokerMeter]:
    """The report (report.json's content) and the broker's CPU."""
    broker = BrokerMeter(config.rig_dir)

    def on_sample(sample: FleetSample) -> None:
        broker.on_sample(sample)
        print(f"  t={sample.t:6.0f}s {sample.phase:<5} connected={sample.connected:5d} "
              f"spooled={sample.spooled:5d} acked={sample.acked:7d} received={sample.received:7d} "
              f"cpu={sample.cpu:4.2f} rss={sample.rss_mb:6.0f}MB", flush=True)

    if config.processes > 1:
        return asyncio.run(ShardedFleet(config, on_sample=on_sample).run()), broker
    return asyncio.run(Fleet(config, on_sample=on_sample).run()).to_json(), broker


def show(config: FleetConfig, data: dict[str, Any], broker: BrokerMeter) -> None:
    steady, storm, batches = data["steady"] or {}, data["storm"] or {}, data["batches"]
    table = Table(title=f"fleet: {config.trailers} reefer trailers in {config.processes} process(es), readings "
                        f"every {config.report_every:g} s, bundles every {config.batch_every:g} s, "
                        f"{os.cpu_count()} CPUs (shared, noisy)")
    table.add_column("figure")
    table.add_column("value", justify="right")
    broker_cores = broker.cores("run", config.sample_every)
    rows = [
        ("identities issued (s)", f"{data['start']['identities_s']:.1f}"),
        ("all connected after (s, paced)", f"{data['start']['connect_s']:.1f}"),
        ("steady window (s)", f"{steady.get('seconds', 0):.0f}"),
        ("simulator CPU (cores)", f"{steady.get('cpu_cores', 0):.3f}"),
        ("CPU per trailer (ms per s)", f"{steady.get('cpu_ms_per_trailer_s', 0):.4f}"),
        ("broker CPU (cores)", _cores(broker_cores)),
        ("broker CPU in the storm (cores)", _cores(broker.cores("storm", config.sample_every))),
        ("simulator RSS (MB)", f"{steady.get('rss_mb', 0):.0f}"),
        ("RSS per trailer (KB)", f"{steady.get('rss_kb_per_trailer', 0):.0f}"),
        ("worst fleet-clock lateness (s)", f"{steady.get('worst_scan_lateness', 0):.3f}"),
        ("batches/s acknowledged", f"{steady.get('batches_per_s', 0):.1f}"),
        *[(f"age at arrival p50 / p99 / max (s), {phase}", f"{a['p50_s']} / {a['p99_s']} / {a['max_s']}")
          for phase, a in data["age_at_arrival"].items()],
        ("storm: all back after (s)", str(storm.get("all_back_after"))),
        ("storm: half back after (s)", str(storm.get("half_back_after"))),
        ("storm: backlog drained after (s)", str(storm.get("drained_after"))),
        ("storm: peak reconnects/s", str(max(storm.get("reconnects_per_second") or [0]))),
        ("storm: outage steps (s)", " ".join(f"{k}={v:g}" for k, v in (storm.get("outage") or {}).items())),
        ("connect failures (all phases)", str(data["connections"]["connect_failures"])),
        ("batches generated / received", f"{batches['generated']} / {batches['received']}"),
        ("duplicated / lost / pending", f"{batches['duplicated']} / {batches['lost']} / {batches['pending']}"),
        ("final drain (s)", str(data["final_drain_s"])),
    ]
    for name, value in rows:
        table.add_row(name, value)
    Console(width=140).print(table)
    print("ok" if data["ok"] else "NOT OK: something was lost, pending, or did not come back")


def _cores(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 trailers, compressed time, one minute")
    parser.add_argument("--trailers", type=int, default=None)
    parser.add_argument("--duration", default=None, help="run proper after all are connected (default 7m)")
    parser.add_argument("--storm", default=None, help="AT:DOWN after all are connected (default 330s:20s), or none")
    parser.add_argument("--reconnect-max", default="10s", help="MQTT backoff ceiling (default 10s)")
    parser.add_argument("--dir", type=Path, default=None, help="keep the run directory (report.json, plots) under this one")
    parser.add_argument("--processes", type=int, default=None,
                        help="simulator processes (default: as few as the open-file limit allows)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # a storm makes every trailer warn once
    if args.quick:
        defaults: dict[str, Any] = {"trailers": 1000, "report_every": 5.0, "batch_every": 30.0,
                                    "duration": 90.0, "storm": "20s:5s"}
    else:
        defaults = {"trailers": 8000, "report_every": 30.0, "batch_every": 300.0, "duration": 420.0,
                    "storm": "330s:20s"}
    trailers = args.trailers or defaults["trailers"]
    duration = parse_duration(args.duration) if args.duration else defaults["duration"]
    storm_arg = args.storm or defaults["storm"]
    storm = None if storm_arg == "none" else Storm.parse(storm_arg)
    keep = contextlib.nullcontext(tempfile.mkdtemp(prefix="bench-fleet-", dir=args.dir)) if args.dir else None
    with keep or tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        config = FleetConfig(trailers=trailers, directory=Path(tmp), report_every=defaults["report_every"],
                             batch_every=defaults["batch_every"], duration=duration, storm=storm,
                             drain_within=180.0, dashboard=False,
                             reconnect_max=parse_duration(args.reconnect_max),
                             processes=args.processes or processes_needed(trailers))
        data, broker = run(config)
        (Path(tmp) / "report.json").write_text(json.dumps(data, indent=1) + "\n")
        show(config, data, broker)
        if args.dir:
            print(f"run directory: {tmp}")


if __name__ == "__main__":
    main()
