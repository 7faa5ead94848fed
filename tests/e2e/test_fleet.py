"""A few hundred reefer trailers, each a real agent, through dead zones and a broker storm: the
cloud ledger must account for every batch the spools made."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulators.fleet import DeadZones, Fleet, FleetConfig, Storm

TRAILERS = 250


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_fleet_storm_and_dead_zones_lose_nothing(tmp_path: Path) -> None:
    config = FleetConfig(
        trailers=TRAILERS, directory=tmp_path / "run", report_every=1.0, batch_every=5.0, duration=40.0,
        storm=Storm(at=12.0, down=4.0), dead_zones=DeadZones(fraction=0.2, shortest=2.0, longest=6.0),
        reconnect_max=8.0, drain_within=60.0, dashboard=False)
    report = await Fleet(config).run()
    batches = report.batches
    assert batches.generated > TRAILERS * 5, batches
    assert batches.lost == 0, batches.losing
    assert batches.pending == 0
    assert batches.received == batches.generated
    # a duplicate is a redelivery: a send retried after its PUBACK was lost
    assert batches.duplicates <= report.connections["sends_retried"]
    assert report.storm is not None
    assert report.storm["back"] == report.storm["expected"] > TRAILERS * 0.5
    assert report.storm["all_back_after"] is not None
    # full jitter: the fleet did not come back in a single second
    assert len([n for n in report.storm["reconnects_per_second"] if n]) > 2
    assert report.dead_zones["zones"] > 0
    assert report.connections["reconnects"] >= TRAILERS
    assert report.ok
    saved = json.loads(json.dumps(report.to_json()))
    assert saved["ok"]
    assert saved["batches"]["lost"] == 0
    assert saved["timeline"], "the report keeps the sampled timeline"

