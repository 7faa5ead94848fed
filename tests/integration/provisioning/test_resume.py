"""Provisioning interrupted at any step resumes or restarts cleanly; a provisioned device does not
provision again."""

from __future__ import annotations

import json
import time
from pathlib import Path

from edge_agent.identity import IdentityConfig
from provisioning.device import ensure_identity, keys
from provisioning.device.client import ClaimConnection, IdentityClient
from provisioning.device.pending import IssuedCertificate, PendingProvisioning
from provisioning.service.service import ProvisioningService
from tests.integration.provisioning.conftest import ClaimFactory


def _config(service: ProvisioningService, claim: ClaimFactory, directory: Path, serial: str) -> IdentityConfig:
    return IdentityConfig(dir=directory, ca=service.rig.ca_path, claim=claim(serial))


async def _issue_only(service: ProvisioningService, claim: ClaimFactory, directory: Path, serial: str,
                      issued_at: float) -> IssuedCertificate:
    """Run CreateCertificateFromCsr and save the state, as a device that stopped right after it."""
    config = claim(serial)
    pending = PendingProvisioning(directory)
    key = keys.new_private_key()
    pending.save_key(keys.private_key_pem(key))
    connection = ClaimConnection(service.host, service.port, config.certificate, config.private_key,
                                 service.rig.ca_path, serial, 10.0)
    async with IdentityClient(connection) as client:
        grant = await client.create_certificate_from_csr(keys.certificate_signing_request(key, serial))
    issued = IssuedCertificate(grant.certificate_id, grant.certificate_pem, grant.ownership_token, issued_at)
    pending.save_certificate(issued)
    return issued


async def test_key_without_certificate_restarts_with_a_fresh_key(
        service: ProvisioningService, claim: ClaimFactory, tmp_path: Path) -> None:
    stale = keys.private_key_pem(keys.new_private_key())
    PendingProvisioning(tmp_path / "d").save_key(stale)
    identity = await ensure_identity(_config(service, claim, tmp_path / "d", "SN-1"), service.host,
                                     service.port, "SN-1")
    assert identity.key_path.read_bytes() != stale
    assert not (tmp_path / "d" / ".provisioning").exists()


async def test_issued_but_unregistered_certificate_is_registered_without_a_new_one(
        service: ProvisioningService, claim: ClaimFactory, tmp_path: Path) -> None:
    issued = await _issue_only(service, claim, tmp_path / "d", "SN-2", time.time())
    before = service.endpoint.counters.get("requests")
    await ensure_identity(_config(service, claim, tmp_path / "d", "SN-2"), service.host, service.port, "SN-2")
    assert service.endpoint.counters.get("requests") - before == 1, "only RegisterThing"
    meta = json.loads((tmp_path / "d" / "identity.json").read_text())
    assert meta["certificate_id"] == issued.certificate_id


async def test_expired_token_restarts_from_a_new_certificate(
        service: ProvisioningService, claim: ClaimFactory, tmp_path: Path) -> None:
    issued = await _issue_only(service, claim, tmp_path / "d", "SN-3", time.time() - 3600)
    await ensure_identity(_config(service, claim, tmp_path / "d", "SN-3"), service.host, service.port, "SN-3")
    meta = json.loads((tmp_path / "d" / "identity.json").read_text())
    assert meta["certificate_id"] != issued.certificate_id
    thing = service.registry.thing("gateway-SN-3")
    assert thing is not None
    assert [c.certificate_id for c in thing.certificates] == [meta["certificate_id"]]


async def test_token_refused_by_the_service_restarts_once(
        service: ProvisioningService, claim: ClaimFactory, tmp_path: Path) -> None:
    issued = await _issue_only(service, claim, tmp_path / "d", "SN-4", time.time())
    service.registry.set_status(issued.certificate_id, "INACTIVE")  # the token is no longer valid
    await ensure_identity(_config(service, claim, tmp_path / "d", "SN-4"), service.host, service.port, "SN-4")
    meta = json.loads((tmp_path / "d" / "identity.json").read_text())
    assert meta["certificate_id"] != issued.certificate_id


async def test_provisioned_device_does_not_provision_again(
        service: ProvisioningService, claim: ClaimFactory, tmp_path: Path) -> None:
    config = _config(service, claim, tmp_path / "d", "SN-5")
    first = await ensure_identity(config, service.host, service.port, "SN-5")
    requests = service.endpoint.counters.get("requests")
    again = await ensure_identity(config, service.host, service.port, "SN-5")
    assert again == first
    assert service.endpoint.counters.get("requests") == requests
