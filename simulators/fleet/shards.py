"""One fleet over several processes: this process owns the rig, the identities and the storm;
each shard process runs a slice of the trailers as a controlled :class:`~simulators.fleet.Fleet`
(see :mod:`simulators.fleet.control`) with its own ledger counting its own devices.

Why: one process holds at most ``RLIMIT_NOFILE / 5`` trailers (a socket and four spool files
each), and one interpreter uses one core for Python work. The shards' samples are summed into
one timeline and their reports merged into one ``report.json``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from cloud.rig import Rig
from simulators.fleet.config import FleetConfig
from simulators.fleet.identities import fleet_identities
from simulators.fleet.limits import raise_open_file_limit
from simulators.fleet.monitor import FleetSample
from simulators.fleet.report import steady_state
from simulators.fleet.storm import broker_outage

logger = logging.getLogger(__name__)

SUMMED = ("connected", "offline", "spooled", "in_flight", "acked", "connects", "connects_per_s", "received",
          "duplicates", "cpu", "rss_mb")


class Shard:
    """One shard process: its command pipe and what it said last."""

    def __init__(self, first: int, count: int, process: asyncio.subprocess.Process) -> None:
        self.first = first
        self.count = count
        self.process = process
        self.latest: dict[str, Any] | None = None
        self.ready = asyncio.Event()
        self.final: Path | None = None

    def send(self, command: str) -> None:
        assert self.process.stdin is not None
        with contextlib.suppress(ConnectionError, RuntimeError):
            self.process.stdin.write(json.dumps({"command": command}).encode() + b"\n")

    async def listen(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if "phase" in message:
                self.latest = message
            elif "ready" in message:
                self.ready.set()
            elif "final" in message:
                self.final = Path(message["final"])


def shard_arguments(config: FleetConfig, first: int, count: int, rig_dir: Path) -> list[str]:
    """The command line of one shard: the same run, restricted to trailers ``first .. first+count``."""
    args = [sys.executable, "-m", "edgeferry", "--log-level", "WARNING", "sim", "fleet", "--controlled",
            "--trailers", str(count), "--first", str(first), "--fleet-size", str(config.trailers),
            "--broker-dir", str(rig_dir), "--dir", str(config.directory), "--identity", config.identity,
            "--report-every", f"{config.report_every}s", "--batch-every", f"{config.batch_every}s",
            "--batch-form", config.batch_form,
            "--connect-in-flight", str(max(1, config.connect_in_flight // config.processes)),
            "--connect-jitter", f"{config.connect_jitter}s", "--reconnect-max", f"{config.reconnect_max}s",
            "--max-in-flight", str(config.max_in_flight), "--spool-workers", str(config.spool_workers),
            "--drain-within", f"{config.drain_within}s", "--seed", str(config.seed), "--no-dashboard"]
    if config.duration is not None:
        args += ["--duration", f"{config.duration}s"]
    if config.dead_zones is not None:
        d = config.dead_zones
        args += ["--dead-zones", f"{d.fraction}:{d.shortest}s-{d.longest}s"]
    return args


class ShardedFleet:
    """Runs ``config`` over ``config.processes`` shard processes; :meth:`run` returns the merged report."""

    def __init__(self, config: FleetConfig, *, on_sample: Callable[[FleetSample], None] | None = None) -> None:
        self.config = config
        self.on_sample = on_sample
        self.samples: list[FleetSample] = []
        self.shards: list[Shard] = []
        self.phase = "start"
        self._t0 = time.monotonic()
        """Time zero of the merged timeline."""
        self.returned_at: float | None = None
        self._me = psutil.Process()
        self._last_cpu, self._last_t = sum(self._me.cpu_times()[:2]), 0.0
        self._storm_seen = False

    async def run(self, stop: asyncio.Event | None = None) -> dict[str, Any]:
        config = self.config
        stop = stop or asyncio.Event()
        config.directory.mkdir(parents=True, exist_ok=True)
        raise_open_file_limit(0)  # the rig's broker inherits the hard limit
        rig = Rig(config.rig_dir)
        own_rig = config.broker_dir is None
        if own_rig:
            await asyncio.to_thread(rig.start)
        try:
            began = time.monotonic()
            await fleet_identities(config, rig, config.directory / "trailers", first=0)
            identities_s = time.monotonic() - began
            return await self._run(rig, identities_s, stop)
        finally:
            for shard in self.shards:
                if shard.process.returncode is None:
                    shard.process.kill()
                    await shard.process.wait()
            if own_rig:
                await asyncio.to_thread(rig.stop)

    async def _run(self, rig: Rig, identities_s: float, stop: asyncio.Event) -> dict[str, Any]:
        config = self.config
        size, parts = config.trailers, config.processes
        bounds = [size * n // parts for n in range(parts + 1)]
        for n in range(parts):
            first, count = bounds[n], bounds[n + 1] - bounds[n]
            log = await asyncio.to_thread(open, config.directory / f"shard-{first:05d}.log", "ab")
            try:
                process = await asyncio.create_subprocess_exec(
                    *shard_arguments(config, first, count, rig.directory), stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE, stderr=log)
            finally:
                log.close()
            self.shards.append(Shard(first, count, process))
        listeners = [asyncio.create_task(s.listen()) for s in self.shards]
        self._t0 = started = time.monotonic()
        self._last_cpu, self._last_t = sum(self._me.cpu_times()[:2]), 0.0
        sampling = asyncio.create_task(self._sample_forever())
        outage: dict[str, float] = {}
        try:
            await self._until_ready()
            connect_s = time.monotonic() - started
            self.phase = "run"
            ended: list[asyncio.Future[Any]] = [
                asyncio.create_task(stop.wait()), asyncio.gather(*(s.process.wait() for s in self.shards))]
            if config.storm is not None:
                storm_job = asyncio.create_task(self._storm(rig, outage))
                await asyncio.wait([storm_job, *ended], return_when=asyncio.FIRST_COMPLETED)
            await asyncio.wait(ended, return_when=asyncio.FIRST_COMPLETED)
            self.phase = "end"
            for shard in self.shards:
                shard.send("stop")
            await asyncio.gather(*(s.process.wait() for s in self.shards))
            await asyncio.gather(*listeners)
        finally:
            sampling.cancel()
        self._sample()  # the shards' last word: phase end
        return self._merge(identities_s, connect_s, outage)

    async def _until_ready(self) -> None:
        waits = [asyncio.create_task(s.ready.wait()) for s in self.shards]
        exits = [asyncio.create_task(s.process.wait()) for s in self.shards]
        while not all(w.done() for w in waits):
            await asyncio.wait(waits + exits, return_when=asyncio.FIRST_COMPLETED)
            if any(e.done() for e in exits):
                failed = next(s for s, e in zip(self.shards, exits, strict=True) if e.done())
                raise RuntimeError(f"fleet shard {failed.first} exited at start (code "
                                   f"{failed.process.returncode}); see shard-{failed.first:05d}.log")
        for task in exits:
            task.cancel()

    async def _storm(self, rig: Rig, outage: dict[str, float]) -> None:
        storm = self.config.storm
        assert storm is not None
        await asyncio.sleep(storm.at)
        self.phase = "storm"
        for shard in self.shards:
            shard.send("storm")
        outage.update(await broker_outage(rig, storm.down))
        self.returned_at = time.monotonic() - self._t0
        for shard in self.shards:
            shard.send("returned")

    async def _sample_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.sample_every)
            self._sample()

    def _sample(self) -> None:
        """One point of the merged timeline: the shards' latest samples summed, plus this process."""
        latest = [s.latest for s in self.shards if s.latest is not None]
        if not latest:
            return
        t = time.monotonic() - self._t0
        phases = {x["phase"] for x in latest}
        self._storm_seen = self._storm_seen or (self.phase == "storm" and "storm" in phases)
        if self._storm_seen and self.phase == "storm" and phases == {"run"}:
            self.phase = "run"  # every shard has watched its trailers come back
        elif "end" in phases:
            self.phase = "end"
        cpu = sum(self._me.cpu_times()[:2])
        totals = {k: sum(x[k] for x in latest) for k in SUMMED}
        totals["cpu"] += (cpu - self._last_cpu) / max(1e-6, t - self._last_t)
        totals["rss_mb"] += self._me.memory_info().rss / 2**20
        self._last_cpu, self._last_t = cpu, t
        sample = FleetSample(t=t, scan_lateness=max(x["scan_lateness"] for x in latest), phase=self.phase,
                             **{k: (int(v) if k not in ("connects_per_s", "cpu", "rss_mb") else v)
                                for k, v in totals.items()})
        self.samples.append(sample)
        if self.on_sample is not None:
            self.on_sample(sample)

    def _merge(self, identities_s: float, connect_s: float, outage: dict[str, float]) -> dict[str, Any]:
        reports = [json.loads(s.final.read_text()) for s in self.shards if s.final is not None]
        if len(reports) < len(self.shards):
            raise RuntimeError("a fleet shard ended without a report; see the shard-*.log files")
        merged = merge_reports(self.config, reports, self.samples, identities_s, connect_s, outage)
        if merged["storm"] is not None and self.returned_at is not None:
            merged["storm"]["returned_at"] = round(self.returned_at, 2)  # on the merged timeline
        return merged


def merge_reports(config: FleetConfig, reports: list[dict[str, Any]], samples: list[FleetSample],
                  identities_s: float, connect_s: float, outage: dict[str, float]) -> dict[str, Any]:
    """One report from the shards' reports (sums; worst case for times; steady state from the
    summed timeline)."""
    batches = {k: sum(r["batches"][k] for r in reports) for k in reports[0]["batches"]
               if k != "trailers_with_loss"}
    batches["trailers_with_loss"] = [t for r in reports for t in r["batches"]["trailers_with_loss"]][:20]
    ages: dict[str, dict[str, Any]] = {}
    for phase in {p for r in reports for p in r["age_at_arrival"]}:
        parts = [r["age_at_arrival"][phase] for r in reports if phase in r["age_at_arrival"]]
        ages[phase] = {"p50_s": statistics.median(p["p50_s"] for p in parts),
                       "p99_s": max(p["p99_s"] for p in parts), "max_s": max(p["max_s"] for p in parts),
                       "batches": sum(p["batches"] for p in parts), "note": "p99 and max: worst shard"}
    storms = [r["storm"] for r in reports if r["storm"]]
    storm = None
    if storms:
        width = max(len(s["reconnects_per_second"]) for s in storms)
        per_second = [sum(s["reconnects_per_second"][i] for s in storms if i < len(s["reconnects_per_second"]))
                      for i in range(width)]
        half, seen, total = None, 0, sum(per_second)
        for second, count in enumerate(per_second):
            seen += count
            if half is None and seen * 2 >= total:
                half = float(second + 1)
        backs = [s["all_back_after"] for s in storms]
        drains = [s["drained_after"] for s in storms]
        storm = {"returned_at": max(s["returned_at"] for s in storms),
                 "expected": sum(s["expected"] for s in storms), "back": sum(s["back"] for s in storms),
                 "all_back_after": None if None in backs else max(backs), "half_back_after": half,
                 "drained_after": None if None in drains else max(drains),
                 "backlog_trailers": sum(s["backlog_trailers"] for s in storms),
                 "reconnects_per_second": per_second, "outage": outage}
    steady = steady_state(samples, config.trailers)
    if steady is not None and all(r["steady"] for r in reports):
        # memory per trailer from each shard's own baseline (an interpreter's base RSS is not a trailer's)
        per_trailer = sum(r["steady"]["rss_kb_per_trailer"] * r["config"]["trailers"] for r in reports)
        steady = dataclasses.replace(steady, rss_kb_per_trailer=per_trailer / config.trailers)
    drains_s = [r["final_drain_s"] for r in reports]
    merged: dict[str, Any] = {
        "config": json.loads(config.model_dump_json()),
        "start": {"identities_s": round(identities_s, 2), "connect_s": round(connect_s, 2),
                  "connected": sum(r["start"]["connected"] for r in reports)},
        "batches": batches, "age_at_arrival": ages,
        "steady": None if steady is None else steady.to_json(), "storm": storm,
        "dead_zones": {k: sum(r["dead_zones"][k] for r in reports) for k in reports[0]["dead_zones"]},
        "connections": {k: sum(r["connections"][k] for r in reports) for k in reports[0]["connections"]},
        "final_drain_s": None if None in drains_s else max(drains_s),
        "shards": len(reports),
        "timeline": [s.to_json() for s in samples],
    }
    merged["ok"] = (batches["lost"] == 0 and batches["pending"] == 0
                    and (storm is None or storm["all_back_after"] is not None))
    return merged
