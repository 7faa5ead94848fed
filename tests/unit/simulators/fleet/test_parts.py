"""The fleet's small parts: the simulated controller, the ledger's tally, the steady-state summary."""

from __future__ import annotations

import asyncio
import io

from rich.console import Console

from edge_agent.envelope import Batch, Quality
from edge_agent.publish.config import MqttPublishConfig
from simulators.fleet.clock import FleetClock
from simulators.fleet.dashboard import Dashboard
from simulators.fleet.ledger import Ledger
from simulators.fleet.monitor import FleetSample
from simulators.fleet.report import steady_state
from simulators.fleet.source import POINT_NAMES, ReeferSource
from simulators.fleet.trailer import TrailerSettings, fleet_agent_config
from simulators.profiles.modbus_map import reefer_map
from simulators.profiles.reefer import Reefer


def test_controller_scan_has_every_reefer_point_at_the_due_time() -> None:
    source = ReeferSource("controller", Reefer(seed=1), FleetClock(30.0), 0.0)
    scan = source.scan(1_700_000_000.25)
    assert {r.point for r in scan} == set(POINT_NAMES.values())
    assert {r.t for r in scan} == {1_700_000_000_250}
    assert all(r.device == "controller" and r.q is Quality.GOOD for r in scan)
    assert source.counters.get("scans") == 1


async def test_controller_skips_scans_the_agent_cannot_take_and_counts_them() -> None:
    clock = FleetClock(30.0)
    source = ReeferSource("controller", Reefer(), clock, 0.0)
    async with source:
        assert len(clock) == 1
        for n in range(5):
            source._on_tick(1000.0 + n)
        scans = source.scans()
        first = await asyncio.wait_for(anext(scans), 5)
        assert first[0].t == 1_000_000
        assert source.counters.get("overruns") == 3
    assert len(clock) == 0


def test_time_scale_runs_the_model_faster_but_keeps_wall_timestamps() -> None:
    fast = ReeferSource("c", Reefer(seed=2), FleetClock(1.0), 0.0, time_scale=30.0, origin=1000.0)
    slow = Reefer(seed=2)
    fast.scan(1000.0)
    slow.sample(1000.0)
    readings = {r.point: r for r in fast.scan(1001.0)}
    expected = slow.sample(1030.0)
    assert readings["reefer_engine_hours"].v == expected["Reefer.EngineHours"]
    assert readings["reefer_fuel_level"].v == expected["Reefer.FuelLevel"]
    assert readings["reefer_fuel_level"].t == 1_001_000


def test_trailer_config_uses_the_register_map_point_names_and_bundles() -> None:
    config = fleet_agent_config(TrailerSettings(site="s", report_every=30.0, batch_every=300.0,
                                                publish=MqttPublishConfig()))
    assert set(config.point_names()) == {e.signal.point_name for e in reefer_map()} == set(POINT_NAMES.values())
    assert config.batching.max_age == 300.0
    assert config.devices[0].poll_interval == 30.0
    assert {a.name for a in config.alarms} == {"warm_cargo", "door_open", "low_fuel"}


def _payload(device: str, seq: int, epoch: str = "e1") -> bytes:
    return Batch(device=device, site="s", asset_type="reefer", epoch=epoch, seq=seq, start=0, end=1000).encode()


def test_ledger_counts_each_key_once_and_the_rest_as_duplicates() -> None:
    ledger = Ledger()
    for seq in (1, 2, 2, 3, 1):
        ledger.count_now(_payload("t1", seq), 1.5)
    ledger.count_now(_payload("t1", 1, epoch="e2"), 1.5)
    ledger.count_now(b"not json", 1.5)
    assert ledger.received == 4
    assert ledger.duplicates == 2
    assert ledger.malformed == 1
    assert ledger.seqs("t1", "e1") == {1, 2, 3}
    assert ledger.seqs("t2", "e1") == set()
    assert ledger.book.copies("t1") == 2
    assert ledger.ages["start"] == [0.5] * 4


async def test_ledger_wait_for_returns_when_the_count_is_reached() -> None:
    ledger = Ledger()
    assert not await ledger.wait_for(1, 0.05)

    async def later() -> None:
        await asyncio.sleep(0.05)
        ledger.count_now(_payload("t", 1), 2.0)

    task = asyncio.create_task(later())
    assert await ledger.wait_for(1, 10)
    await task


def _sample(t: float, phase: str, acked: int, cpu: float = 0.5) -> FleetSample:
    return FleetSample(t=t, connected=10, offline=0, spooled=0, in_flight=0, acked=acked, connects=10,
                       connects_per_s=0.0, received=acked, duplicates=0, scan_lateness=0.01 * t, cpu=cpu,
                       rss_mb=100.0, phase=phase)


def test_steady_state_uses_only_the_run_phase() -> None:
    samples = [_sample(0, "start", 0, cpu=1.9), _sample(1, "run", 0), _sample(2, "run", 10),
               _sample(3, "run", 20), _sample(4, "storm", 20, cpu=1.5), _sample(5, "end", 30, cpu=1.9)]
    steady = steady_state(samples, trailers=10, baseline_rss_mb=50.0)
    assert steady is not None
    assert steady.seconds == 2
    assert steady.cpu_cores == 0.5
    assert steady.cpu_ms_per_trailer_s == 50.0
    assert steady.batches_per_s == 10.0
    assert steady.rss_kb_per_trailer == 50 * 1024 / 10
    assert steady.worst_scan_lateness == 0.03
    assert steady_state(samples[:2], trailers=10) is None


def test_dashboard_shows_the_latest_sample() -> None:
    console = Console(file=io.StringIO(), width=200, force_terminal=False)
    with Dashboard(10, console=console) as dashboard:
        dashboard.show(_sample(3, "run", 20))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "10 reefer trailers" in text
    assert "50%" in text
    assert "100 MB" in text
