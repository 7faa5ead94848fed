"""Identities for a fleet: bulk-issued by the rig's CA, or obtained by fleet provisioning.

Either way each trailer's identity lives in its own directory under the run directory and is
made once: a later run over the same directory reuses it (``ensure_identity`` finds it complete).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

from cloud.rig import Rig
from edge_agent.identity import ClaimConfig, Identity, IdentityConfig
from simulators.fleet.config import FleetConfig

logger = logging.getLogger(__name__)

PROVISION_CONCURRENCY = 100
ASSET_TYPE = "reefer"


def bulk_identities(rig: Rig, things: Sequence[str], directories: Sequence[Path]) -> list[Identity]:
    """Issue a certificate per thing from the rig's CA (CN = thing name), unless one exists."""
    identities = []
    for thing, directory in zip(things, directories, strict=True):
        if not Identity.exists(directory):
            rig.issue_identity(thing, directory)
        identities.append(Identity.load(IdentityConfig(dir=directory), thing))
    return identities


async def provisioned_identities(rig: Rig, serials: Sequence[str], directories: Sequence[Path],
                                 claim_dir: Path) -> list[Identity]:
    """Provision each device by claim (CSR + RegisterThing) through a provisioning service run in
    this process for the occasion; devices already provisioned are loaded as they are. The thing
    names come from the template (``reefer-<serial>``); the claim endpoint is the service's own MQTT
    listener, as AWS IoT Core's provisioning API sits on its broker."""
    from provisioning.device import RetryPolicy, ensure_identity
    from provisioning.service.api import TemplateEntry
    from provisioning.service.service import ProvisioningService, issue_claim
    from provisioning.service.templates import DEFAULT_TEMPLATE_PATH, load_template

    template = load_template(DEFAULT_TEMPLATE_PATH)
    gate = asyncio.Semaphore(PROVISION_CONCURRENCY)
    retry = RetryPolicy(attempts=8, initial=0.2, maximum=5.0)
    async with ProvisioningService(rig, {template.name: TemplateEntry(template)}) as service:
        if not (claim_dir / "claim.cert.pem").exists():
            await asyncio.to_thread(issue_claim, rig, "fleet-claim", claim_dir)
        claim = ClaimConfig(certificate=claim_dir / "claim.cert.pem",
                            private_key=claim_dir / "claim.key.pem", template=template.name)

        async def one(serial: str, directory: Path) -> Identity:
            config = IdentityConfig(dir=directory, ca=rig.ca_path, claim=claim.model_copy(
                update={"parameters": {"SerialNumber": serial, "AssetType": ASSET_TYPE}}))
            async with gate:
                return await ensure_identity(config, service.host, service.port, serial, retry=retry)

        return list(await asyncio.gather(*(one(s, d) for s, d in zip(serials, directories, strict=True))))


async def fleet_identities(config: FleetConfig, rig: Rig, trailer_dir: Path, *, first: int | None = None,
                           count: int | None = None) -> list[Identity]:
    """The identities of trailers ``first`` .. ``first + count`` (default: the config's own), each in
    ``trailer_dir/<serial>/identity``, made as ``config.identity`` says."""
    first = config.first if first is None else first
    count = config.trailers if count is None else count
    serials = [f"{n:05d}" for n in range(first, first + count)]
    directories = [trailer_dir / s / "identity" for s in serials]
    if config.identity == "provision":
        return await provisioned_identities(rig, serials, directories, config.directory / "claim")
    things = [f"{config.prefix}-{s}" for s in serials]
    return await asyncio.to_thread(bulk_identities, rig, things, directories)
