"""200 devices provision at once through one process's awscrt clients: each gets its own
certificate bound to its own thing, and no reply reaches anyone else."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path

import pytest
from cryptography import x509

from edge_agent.identity import IdentityConfig
from provisioning.device import RetryPolicy, ensure_identity, keys
from provisioning.service.service import ProvisioningService
from tests.integration.provisioning.conftest import REPLY_FILTERS, ClaimConnection, ClaimFactory

DEVICES = 200
CONNECTS_IN_FLIGHT = 50
"""Pace the handshakes, as a fleet's jittered start would (FIELD-NOTES: backlog and TLS cost)."""


@pytest.mark.slow
async def test_200_devices_provision_concurrently(service: ProvisioningService, claim: ClaimFactory,
                                                  tmp_path: Path) -> None:
    gate = asyncio.Semaphore(CONNECTS_IN_FLIGHT)

    async def device(n: int) -> Path:
        serial = f"F{n:04d}"
        config = IdentityConfig(dir=tmp_path / serial, ca=service.rig.ca_path, claim=claim(serial))
        async with gate:
            await ensure_identity(config, service.host, service.port, serial,
                                  retry=RetryPolicy(attempts=5, initial=0.2, maximum=2.0))
        return config.dir

    async with ClaimConnection(service, claim("eve"), "eve") as eve:
        for topic_filter in REPLY_FILTERS:
            await eve.subscribe(topic_filter)
        started = time.monotonic()
        directories = await asyncio.gather(*(device(n) for n in range(DEVICES)))
        elapsed = time.monotonic() - started
        with contextlib.suppress(TimeoutError):
            topic, _ = await asyncio.wait_for(eve.messages.get(), 0.5)
            raise AssertionError(f"eavesdropper received a reply on {topic}")

    certificate_ids = set()
    for n, directory in enumerate(directories):
        meta = json.loads((directory / "identity.json").read_text())
        assert meta["thing_name"] == f"gateway-F{n:04d}"
        cert = (directory / "device.cert.pem").read_text()
        key = keys.load_private_key((directory / "device.key.pem").read_bytes())
        assert keys.certificate_matches_key(cert, key)
        thing = service.registry.thing(meta["thing_name"])
        assert thing is not None
        assert [c.certificate_id for c in thing.certificates] == [meta["certificate_id"]]
        assert x509.load_pem_x509_certificate(cert.encode()).serial_number == thing.certificates[0].serial
        certificate_ids.add(meta["certificate_id"])
    assert len(certificate_ids) == DEVICES
    assert service.endpoint.counters.get("accepted") == 2 * DEVICES
    print(f"{DEVICES} devices provisioned in {elapsed:.1f} s")
