"""Refusals come back with AWS's status and error codes, and are not retried; throttling is."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from edge_agent.identity import IdentityConfig
from provisioning.device import RetryPolicy, ensure_identity
from provisioning.device.client import ClaimConnection, IdentityClient
from provisioning.errors import ProvisioningRejected
from provisioning.service.api import TemplateEntry
from provisioning.service.service import ProvisioningService
from provisioning.service.templates import DEFAULT_TEMPLATE_PATH, load_template
from tests.integration.provisioning.conftest import GUARDED_TEMPLATE, ONCE_TEMPLATE, ClaimFactory

FAST = RetryPolicy(attempts=4, initial=0.05, maximum=0.2)


async def _provision(service: ProvisioningService, claim: ClaimFactory, directory: Path, serial: str,
                     **options: str) -> None:
    config = IdentityConfig(dir=directory, ca=service.rig.ca_path, claim=claim(serial, **options))
    await ensure_identity(config, service.host, service.port, serial, retry=FAST)


async def test_unknown_template_is_refused_once_with_404(
        service: ProvisioningService, claim: ClaimFactory, tmp_path: Path) -> None:
    with pytest.raises(ProvisioningRejected) as refused:
        await _provision(service, claim, tmp_path / "d", "SN-1", template="no-such-template")
    assert (refused.value.status_code, refused.value.error_code) == (404, "ResourceNotFound")
    assert "ResourceNotFound" in str(refused.value)
    assert service.endpoint.counters.get("requests") == 2, "a 4xx refusal must not be retried"
    assert not (tmp_path / "d" / "identity.json").exists()


async def test_hook_refuses_a_serial_not_on_the_allow_list(
        service: ProvisioningService, claim: ClaimFactory, tmp_path: Path) -> None:
    with pytest.raises(ProvisioningRejected) as refused:
        await _provision(service, claim, tmp_path / "d", "stolen-9", template=GUARDED_TEMPLATE)
    assert (refused.value.status_code, refused.value.error_code) == (403, "AccessDenied")
    assert service.registry.thing("gateway-stolen-9") is None
    await _provision(service, claim, tmp_path / "ok", "ok-3", template=GUARDED_TEMPLATE)
    assert service.registry.thing("gateway-ok-3") is not None


async def test_a_registered_serial_is_provisioned_again_unless_the_hook_refuses_it(
        service: ProvisioningService, claim: ClaimFactory, tmp_path: Path) -> None:
    """Without a hook IoT Core lets a claim re-provision an existing thing (a second certificate);
    the RefuseRegisteredSerials hook refuses it with AccessDenied."""
    await _provision(service, claim, tmp_path / "first", "SN-40")
    await _provision(service, claim, tmp_path / "again", "SN-40")
    record = service.registry.thing("gateway-SN-40")
    assert record is not None
    assert [c.status for c in record.certificates] == ["ACTIVE", "ACTIVE"]

    await _provision(service, claim, tmp_path / "once", "SN-41", template=ONCE_TEMPLATE)
    with pytest.raises(ProvisioningRejected) as refused:
        await _provision(service, claim, tmp_path / "twice", "SN-41", template=ONCE_TEMPLATE)
    assert (refused.value.status_code, refused.value.error_code) == (403, "AccessDenied")
    with pytest.raises(ProvisioningRejected):  # whichever template the claim tries
        await _provision(service, claim, tmp_path / "other", "SN-40", template=ONCE_TEMPLATE)
    record = service.registry.thing("gateway-SN-41")
    assert record is not None
    assert len(record.certificates) == 1


def _rsa_csr(bits: int) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")])).sign(key, hashes.SHA256()))
    return csr.public_bytes(serialization.Encoding.PEM).decode()


@pytest.mark.parametrize("csr", ["not a CSR", "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"
                                 "-----END CERTIFICATE REQUEST-----\n", _rsa_csr(1024)])
async def test_malformed_csr_is_refused_with_invalid_csr(
        service: ProvisioningService, claim: ClaimFactory, csr: str) -> None:
    config = claim("SN-1")
    connection = ClaimConnection(service.host, service.port, config.certificate, config.private_key,
                                 service.rig.ca_path, "SN-1", 10.0)
    async with IdentityClient(connection) as client:
        with pytest.raises(ProvisioningRejected) as refused:
            await client.create_certificate_from_csr(csr)
    assert (refused.value.status_code, refused.value.error_code) == (400, "InvalidCSR")


async def test_rsa_2048_csr_is_accepted(service: ProvisioningService, claim: ClaimFactory) -> None:
    config = claim("SN-1")
    connection = ClaimConnection(service.host, service.port, config.certificate, config.private_key,
                                 service.rig.ca_path, "SN-1", 10.0)
    async with IdentityClient(connection) as client:
        grant = await client.create_certificate_from_csr(_rsa_csr(2048))
    assert grant.certificate_pem.startswith("-----BEGIN CERTIFICATE-----")


async def test_invalid_ownership_token_is_refused(service: ProvisioningService, claim: ClaimFactory) -> None:
    config = claim("SN-1")
    connection = ClaimConnection(service.host, service.port, config.certificate, config.private_key,
                                 service.rig.ca_path, "SN-1", 10.0)
    async with IdentityClient(connection) as client:
        with pytest.raises(ProvisioningRejected) as refused:
            await client.register_thing("edgeferry-device", "forged-token", {"SerialNumber": "1"})
    assert (refused.value.status_code, refused.value.error_code) == (400, "InvalidCertificateOwnershipToken")


async def test_throttled_requests_are_retried_with_backoff(service: ProvisioningService, claim: ClaimFactory,
                                                           tmp_path: Path) -> None:
    templates = {"edgeferry-device": TemplateEntry(load_template(DEFAULT_TEMPLATE_PATH))}
    async with ProvisioningService(service.rig, templates, requests_per_second=1.0) as throttled:
        config = IdentityConfig(dir=tmp_path / "d", ca=throttled.rig.ca_path, claim=claim("SN-5"))
        started = time.monotonic()
        identity = await ensure_identity(config, throttled.host, throttled.port, "SN-5",
                                         retry=RetryPolicy(attempts=8, initial=0.25, maximum=2.0))
        assert identity.thing_name == "gateway-SN-5"
        assert throttled.endpoint.counters.get("rejected") >= 1
        assert time.monotonic() - started < 30


async def test_private_key_is_0600_and_never_logged(service: ProvisioningService, claim: ClaimFactory,
                                                    tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for method in ("csr", "keys"):
        directory = tmp_path / method
        await _provision(service, claim, directory, f"SN-{method}", method=method)
        key_file = directory / "device.key.pem"
        assert key_file.stat().st_mode & 0o777 == 0o600
        body = "".join(line for line in key_file.read_text().splitlines() if "-----" not in line)
        assert len(body) > 60
        logged = caplog.text + "".join(repr(r.__dict__) for r in caplog.records)
        for chunk in (body, body[:40], body[-40:]):
            assert chunk not in logged
