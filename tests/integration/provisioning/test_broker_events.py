"""Provisioning goes on through transient broker events: the broker restarted, or not running when
RegisterThing comes. Devices provisioning concurrently
all end registered, each with the one certificate it was first issued (a RegisterThing answered
InternalFailure is retried with the same ownership token)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from cloud.rig import Rig
from edge_agent.identity import IdentityConfig
from provisioning.device import RetryPolicy, ensure_identity
from provisioning.service.service import ProvisioningService
from tests.fixtures.broker import wait_until
from tests.integration.provisioning.conftest import ClaimFactory

DEVICES = 4
RETRY = RetryPolicy(attempts=20, initial=0.2, maximum=1.0)
"""Enough tries to outlast a broker restart on a loaded machine, whatever the jitter draws."""


def identities(claim: ClaimFactory, rig: Rig, tmp_path: Path, prefix: str) -> list[IdentityConfig]:
    return [IdentityConfig(dir=tmp_path / f"{prefix}{n}", ca=rig.ca_path, claim=claim(f"{prefix}{n}"))
            for n in range(DEVICES)]


async def provision_all(service: ProvisioningService, configs: Sequence[IdentityConfig]) -> list[str]:
    """Provision the devices at once; their thing names."""
    provisioned = await asyncio.gather(*(
        ensure_identity(c, service.host, service.port, c.dir.name, retry=RETRY) for c in configs))
    return [identity.thing_name for identity in provisioned]


def assert_one_certificate_each(service: ProvisioningService, things: Sequence[str]) -> None:
    for thing in things:
        record = service.registry.thing(thing)
        assert record is not None, thing
        assert [c.status for c in record.certificates] == ["ACTIVE"]
    assert len(service.registry.certificates()) == len(things), "no certificate was issued in vain"


async def test_provisioning_goes_on_right_after_a_broker_restart(
        rig: Rig, service: ProvisioningService, claim: ClaimFactory, tmp_path: Path) -> None:
    things = await provision_all(service, identities(claim, rig, tmp_path, "before"))
    await asyncio.to_thread(rig.restart)
    await service.access.refresh()  # while the check connection is still coming back
    things += await provision_all(service, identities(claim, rig, tmp_path, "after"))
    assert_one_certificate_each(service, things)


async def test_devices_registering_while_the_broker_is_down_finish_once_it_is_back(
        rig: Rig, service: ProvisioningService, claim: ClaimFactory, tmp_path: Path) -> None:
    await asyncio.to_thread(rig.stop)
    provisioning = asyncio.ensure_future(provision_all(service, identities(claim, rig, tmp_path, "outage")))
    await wait_until(lambda: service.endpoint.counters.get("rejected") >= DEVICES, within=30.0)
    await asyncio.to_thread(rig.start)
    things = await asyncio.wait_for(provisioning, 60.0)
    assert_one_certificate_each(service, things)
