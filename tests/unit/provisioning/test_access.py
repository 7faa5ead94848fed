"""What the broker ACL grants each certificate, by status; how concurrent refreshes share a reload."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import cast

import pytest

from provisioning.errors import ProvisioningUnavailable
from provisioning.grants import TopicGrant
from provisioning.service.access import DENY_ALL, BrokerAccess, certificate_grants
from provisioning.service.broker import BrokerControl
from provisioning.service.registry import AccessEntry, CertificateStatus, Registry


def record(status: CertificateStatus, things: tuple[str, ...] = ("pump-1",)) -> AccessEntry:
    return AccessEntry("cn", status, 1, list(things))


def test_active_certificate_gets_its_things_topics_only() -> None:
    assert certificate_grants(record("ACTIVE")) == [
        TopicGrant("write", "dt/+/+/pump-1/#"),
        TopicGrant("write", "$aws/rules/+/dt/+/+/pump-1/#"),
        TopicGrant("read", "cmd/pump-1/#"),
    ]


def test_revoked_and_inactive_are_denied_everything_including_aws_topics() -> None:
    for status in ("REVOKED", "INACTIVE"):
        assert certificate_grants(record(status)) == list(DENY_ALL)
    assert TopicGrant("deny", "$aws/#") in DENY_ALL


def test_pending_certificate_gets_no_block() -> None:
    assert certificate_grants(record("PENDING_ACTIVATION")) is None


async def test_callers_waiting_on_a_failed_reload_share_its_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    """A broker that cannot bring the rules in force costs the waiting callers one wait, not one each."""
    access = BrokerAccess(cast(BrokerControl, object()), Registry(Path(":memory:")), Path("state"))
    reloads: list[str] = []

    async def never_in_force(generation: str) -> None:
        await asyncio.sleep(0.05)
        raise ProvisioningUnavailable("broker: the reloaded ACL did not come into force")

    monkeypatch.setattr(access, "_write_and_reload", reloads.append)
    monkeypatch.setattr(access, "_wait_in_force", never_in_force)
    outcomes = await asyncio.gather(*(access.refresh() for _ in range(5)), return_exceptions=True)
    assert all(isinstance(o, ProvisioningUnavailable) for o in outcomes)
    assert len(reloads) == 2, "the first caller's reload, then one shared by the four that queued behind it"

    monkeypatch.setattr(access, "_wait_in_force", lambda generation: asyncio.sleep(0))
    await access.refresh()
    assert len(reloads) == 3, "a later call tries again"
