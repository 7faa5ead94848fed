"""Provisioning goes on through transient broker events: the service's check connection dropped,
the broker restarted, or not running when RegisterThing comes. Devices provisioning concurrently
all end registered, each with the one certificate it was first issued (a RegisterThing answered
InternalFailure is retried with the same ownership token)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from cloud.rig import Rig
from cloud.rules.mqtt_attach import MqttAttachment, MqttSettings
from edge_agent.identity import ClaimConfig, IdentityConfig
from provisioning.device import RetryPolicy, ensure_identity
from provisioning.service.api import TemplateEntry
from provisioning.service.service import ProvisioningService
from provisioning.service.templates import DEFAULT_TEMPLATE_NAME, DEFAULT_TEMPLATE_PATH, load_template
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


@pytest.fixture
def dropping_rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Rig:
    """A rig whose broker closes a client's connection right after refusing its publish, as
    mosquitto 2.0.11 does with ``max_queued_messages 0``: every ACL check that runs ahead of the
    broker's reload costs the service its check connection."""
    monkeypatch.setattr("cloud.rig.mosquitto.QUEUE_BOUND", 0)
    return Rig(tmp_path / "dropping-rig")


@pytest.fixture
async def dropping_service(dropping_rig: Rig, tmp_path: Path) -> AsyncIterator[ProvisioningService]:
    """The service on the dropping rig, with the cloud side attached as the demo attaches it: a
    persistent MQTT5 session."""
    templates = {DEFAULT_TEMPLATE_NAME: TemplateEntry(load_template(DEFAULT_TEMPLATE_PATH))}
    async with dropping_rig:
        cloud = dropping_rig.cloud_identity

        async def ignore(topic: str, payload: bytes) -> None:
            return None

        subscriber = MqttAttachment(MqttSettings(
            dropping_rig.host, dropping_rig.port, dropping_rig.ca_path, cloud.cert_path, cloud.key_path,
            client_id="provisioning-test-cloud"), ignore, [])
        await subscriber.start()
        try:
            async with ProvisioningService(dropping_rig, templates) as service:
                yield service
        finally:
            await subscriber.stop()


async def test_concurrent_provisioning_survives_a_broker_that_drops_the_check_connection(
        dropping_service: ProvisioningService, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="provisioning.service.broker_client")
    claim_dir = dropping_service.issue_claim("factory-line-1", tmp_path / "claim")

    def claim(serial: str) -> ClaimConfig:
        return ClaimConfig(certificate=claim_dir / "claim.cert.pem", private_key=claim_dir / "claim.key.pem",
                           template=DEFAULT_TEMPLATE_NAME, parameters={"SerialNumber": serial})

    things: list[str] = []
    for wave in range(3):
        things += await provision_all(dropping_service,
                                      identities(claim, dropping_service.rig, tmp_path, f"W{wave}D"))
    assert_one_certificate_each(dropping_service, things)
    assert any(r.message == "broker_client_disconnected" for r in caplog.records), \
        "the broker never dropped the check connection: nothing was tested"


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
