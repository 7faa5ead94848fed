"""What the broker knows of each registry certificate; how concurrent refreshes share a reload."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import cast

import pytest

from provisioning.errors import ProvisioningUnavailable
from provisioning.policy import Principal, evaluate, resource_arn, statements
from provisioning.service.access import (
    PROVISIONER,
    BrokerAccess,
    certificate_principal,
    provisioner_policy,
)
from provisioning.service.broker import BrokerControl
from provisioning.service.registry import AccessEntry, CertificateStatus, Registry


def record(status: CertificateStatus, things: tuple[str, ...] = ("pump-1",)) -> AccessEntry:
    return AccessEntry("c" * 64, "cn", status, 1, list(things))


@pytest.mark.parametrize("status", ["ACTIVE", "REVOKED", "INACTIVE", "PENDING_ACTIVATION"])
def test_every_certificate_is_a_principal_with_its_status_and_things(status: CertificateStatus) -> None:
    assert certificate_principal(record(status)) == Principal(
        "c" * 64, ("edgeferry-device",), ("pump-1",), status)


def test_the_provisioner_may_publish_only_to_the_current_generation() -> None:
    policy = statements("p", provisioner_policy("g2"))
    prefix = "arn:aws:iot:local:1:"

    def publish(topic: str) -> bool:
        return evaluate(policy, "iot:Publish", resource_arn(prefix, "iot:Publish", topic),
                        client_id=f"{PROVISIONER}-x", thing=None).allowed

    assert publish("edgeferry/acl/g2")
    assert not publish("edgeferry/acl/g1")


async def test_callers_waiting_on_a_failed_reload_share_its_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    """A broker that cannot bring the rules in force costs the waiting callers one wait, not one each."""
    access = BrokerAccess(cast(BrokerControl, object()), Registry(Path(":memory:")), Path("state"))
    reloads: list[str] = []

    async def never_in_force(generation: str) -> None:
        await asyncio.sleep(0.05)
        raise ProvisioningUnavailable("broker: the reloaded rules did not come into force")

    monkeypatch.setattr(access, "_write_and_reload", reloads.append)
    monkeypatch.setattr(access, "_wait_in_force", never_in_force)
    outcomes = await asyncio.gather(*(access.refresh() for _ in range(5)), return_exceptions=True)
    assert all(isinstance(o, ProvisioningUnavailable) for o in outcomes)
    assert len(reloads) == 2, "the first caller's reload, then one shared by the four that queued behind it"

    monkeypatch.setattr(access, "_wait_in_force", lambda generation: asyncio.sleep(0))
    await access.refresh()
    assert len(reloads) == 3, "a later call tries again"
