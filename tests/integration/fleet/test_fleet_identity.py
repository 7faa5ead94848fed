"""Identities of a fleet: provisioned by claim once, kept in the run directory and reused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulators.fleet import Fleet, FleetConfig


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_provisioned_fleet_keeps_its_identities_and_spools_for_the_next_run(tmp_path: Path) -> None:
    config = FleetConfig(trailers=3, directory=tmp_path / "run", identity="provision", report_every=1.0,
                         batch_every=3.0, duration=5.0, dashboard=False, drain_within=30.0)
    first = await Fleet(config).run()
    assert first.ok
    assert first.batches.generated >= 3
    identity = tmp_path / "run" / "trailers" / "00001" / "identity"
    meta = json.loads((identity / "identity.json").read_text())
    assert meta["thing_name"] == "reefer-00001"
    assert meta["certificate_id"], "issued by the provisioning service, not the rig's bulk issuer"
    cert = (identity / "device.cert.pem").read_bytes()

    again = Fleet(config)
    second = await again.run()
    assert second.ok
    assert (identity / "device.cert.pem").read_bytes() == cert
    assert [t.thing for t in again.trailers] == ["reefer-00000", "reefer-00001", "reefer-00002"]
    assert all(t.start_seq > 0 for t in again.trailers), "the spools carry on from the first run"
    assert second.batches.lost == 0
