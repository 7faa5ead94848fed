"""Splitting a fleet over processes: each shard's command line, and one report from theirs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from simulators.fleet.config import DeadZones, FleetConfig, Storm
from simulators.fleet.monitor import FleetSample
from simulators.fleet.shards import merge_reports, shard_arguments


def _config() -> FleetConfig:
    return FleetConfig(trailers=10, directory=Path("/run"), processes=2, report_every=1.0, batch_every=5.0,
                       duration=30.0, storm=Storm(at=5.0, down=2.0),
                       dead_zones=DeadZones(fraction=0.5, shortest=1.0, longest=2.0))


def test_a_shard_runs_its_slice_of_the_same_fleet_without_the_storm() -> None:
    args = shard_arguments(_config(), 5, 5, Path("/run/rig"))
    line = " ".join(args)
    assert "--controlled --trailers 5 --first 5 --fleet-size 10" in line
    assert "--broker-dir /run/rig" in line
    assert "--dead-zones 0.5:1.0s-2.0s" in line
    assert "--duration 30.0s" in line
    assert "--storm" not in line
    assert args[args.index("--connect-in-flight") + 1] == "100"


def _report(trailers: int, lost: int, back: float | None, per_second: list[int]) -> dict[str, Any]:
    return {
        "config": {"trailers": trailers},
        "start": {"connected": trailers},
        "batches": {"generated": 100, "received": 100 - lost, "duplicated": 1, "lost": lost, "pending": 0,
                    "dropped": 0, "rejected": 0, "carried_over": 0,
                    "trailers_with_loss": ["reefer-00001"] if lost else []},
        "age_at_arrival": {"run": {"p50_s": 1.0, "p99_s": 2.0 + lost, "max_s": 3.0, "batches": 90}},
        "steady": {"rss_kb_per_trailer": 400.0},
        "storm": {"returned_at": 10.0, "expected": trailers, "back": trailers, "all_back_after": back,
                  "half_back_after": 1.0, "drained_after": 2.0, "backlog_trailers": 1,
                  "reconnects_per_second": per_second},
        "dead_zones": {"zones": 2, "trailers": 1},
        "connections": {"connects": 2 * trailers, "reconnects": trailers, "connect_failures": 3,
                        "sends_retried": 4},
        "final_drain_s": 1.5,
    }


def _samples() -> list[FleetSample]:
    return [FleetSample(t=t, connected=10, offline=0, spooled=0, in_flight=0, acked=10 * int(t), connects=10,
                        connects_per_s=0.0, received=0, duplicates=0, scan_lateness=0.0, cpu=0.2, rss_mb=900.0,
                        phase="run") for t in (1.0, 2.0, 3.0)]


def test_merged_report_sums_counts_and_keeps_the_worst_times() -> None:
    merged = merge_reports(_config(), [_report(5, 0, 4.0, [2, 3]), _report(5, 0, 6.0, [1, 1, 3])], _samples(),
                           1.0, 2.0, {"stop": 0.1})
    assert merged["ok"]
    assert merged["batches"]["generated"] == 200
    assert merged["batches"]["duplicated"] == 2
    assert merged["storm"]["all_back_after"] == 6.0
    assert merged["storm"]["reconnects_per_second"] == [3, 4, 3]
    assert merged["storm"]["half_back_after"] == 2.0
    assert merged["storm"]["outage"] == {"stop": 0.1}
    assert merged["connections"]["connects"] == 20
    assert merged["steady"]["rss_kb_per_trailer"] == 400.0
    assert merged["steady"]["batches_per_s"] == 10.0
    assert merged["shards"] == 2


def test_merged_report_is_not_ok_when_a_shard_lost_or_did_not_recover() -> None:
    lost = merge_reports(_config(), [_report(5, 0, 4.0, [5]), _report(5, 2, 4.0, [5])], _samples(), 1, 2, {})
    assert not lost["ok"]
    assert lost["batches"]["lost"] == 2
    assert lost["batches"]["trailers_with_loss"] == ["reefer-00001"]
    assert lost["age_at_arrival"]["run"]["p99_s"] == 4.0
    stuck = merge_reports(_config(), [_report(5, 0, None, [4]), _report(5, 0, 4.0, [5])], _samples(), 1, 2, {})
    assert not stuck["ok"]
    assert stuck["storm"]["all_back_after"] is None
