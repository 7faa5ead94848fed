"""The local provisioning service of a rig: endpoint + API + registry + broker access, in one object.

Layout, beside the rig's own files in the rig directory ``D``::

    D/provisioning/registry.sqlite    things, certificates, attachments
    D/provisioning/claim-ca/          the claim CA (claim certificates; the broker does not trust it)
    D/provisioning/endpoint/          the endpoint's TLS server certificate (signed by the rig CA)
    D/provisioning/provisioner/       the service's identity on the broker
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Self

from edge_agent.files import write_atomic
from provisioning.pki import CertificateAuthority
from provisioning.service.access import BrokerAccess
from provisioning.service.api import FleetProvisioningApi, TemplateEntry
from provisioning.service.authority import DeviceAuthority
from provisioning.service.broker import BrokerControl
from provisioning.service.endpoint import ProvisioningEndpoint
from provisioning.service.registry import Registry

SERVER_NAMES = ("localhost", "127.0.0.1")
CLAIM_CA_NAME = "edgeferry claim CA"


def state_dir(rig: BrokerControl) -> Path:
    return rig.directory / "provisioning"


def open_registry(rig: BrokerControl) -> Registry:
    return Registry(state_dir(rig) / "registry.sqlite")


def claim_authority(rig: BrokerControl) -> CertificateAuthority:
    return CertificateAuthority.open(state_dir(rig) / "claim-ca", common_name=CLAIM_CA_NAME)


def issue_claim(rig: BrokerControl, name: str, directory: Path) -> Path:
    """Write a claim (bootstrap) certificate with CN ``name`` into ``directory``:
    ``claim.cert.pem``, ``claim.key.pem`` (0600) and ``root-ca.pem`` (the rig CA, which signed the
    endpoint's and the broker's certificates)."""
    issued = claim_authority(rig).issue(name)
    write_atomic(directory / "claim.key.pem", issued.key_pem, 0o600)
    write_atomic(directory / "claim.cert.pem", issued.cert_pem, 0o644)
    write_atomic(directory / "root-ca.pem", rig.ca.cert_pem, 0o644)
    return directory


def endpoint_tls(rig: BrokerControl) -> ssl.SSLContext:
    """Server TLS for the endpoint: a rig-CA certificate, and claim certificates required."""
    directory = state_dir(rig) / "endpoint"
    cert, key = directory / "server.pem", directory / "server.key.pem"
    if not (cert.exists() and key.exists()):
        issued = rig.ca.issue("localhost", server_names=SERVER_NAMES)
        write_atomic(key, issued.key_pem, 0o600)
        write_atomic(cert, issued.cert_pem, 0o644)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cadata=claim_authority(rig).cert_pem.decode())
    return context


class ProvisioningService:
    """Serves fleet provisioning for ``rig`` on ``host:port`` (0: a free port) until closed."""

    def __init__(self, rig: BrokerControl, templates: Mapping[str, TemplateEntry], *, host: str = "127.0.0.1",
                 port: int = 0, requests_per_second: float | None = None) -> None:
        self.rig = rig
        self.registry = open_registry(rig)
        self.access = BrokerAccess(rig, self.registry, state_dir(rig))
        self.api = FleetProvisioningApi(self.registry, DeviceAuthority(rig.ca), templates,
                                        self.access.refresh, requests_per_second=requests_per_second)
        self.endpoint = ProvisioningEndpoint(self.api, endpoint_tls(rig), host, port)

    @property
    def host(self) -> str:
        return self.endpoint.host

    @property
    def port(self) -> int:
        return self.endpoint.port

    def issue_claim(self, name: str, directory: Path) -> Path:
        return issue_claim(self.rig, name, directory)

    async def __aenter__(self) -> Self:
        self.registry.delete_expired_pending()
        await self.endpoint.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.endpoint.__aexit__()
        await self.access.aclose()
        self.registry.close()
