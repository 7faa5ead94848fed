"""A reply reaches only the connection that asked: other claim holders, subscribed to the very
same AWS topics, receive nothing; wildcards and foreign topics are refused."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from edge_agent.identity import IdentityConfig
from provisioning.device import ensure_identity
from provisioning.service.service import ProvisioningService
from tests.integration.provisioning.conftest import REPLY_FILTERS, ClaimConnection, ClaimFactory


async def test_eavesdropper_subscribed_to_the_standard_topics_receives_nothing(
        service: ProvisioningService, claim: ClaimFactory, tmp_path: Path) -> None:
    async with ClaimConnection(service, claim("eve"), "eve") as eve:
        for topic_filter in REPLY_FILTERS:
            assert await eve.subscribe(topic_filter) is not None
        for serial in ("A-1", "A-2", "A-3"):
            config = IdentityConfig(dir=tmp_path / serial, ca=service.rig.ca_path, claim=claim(serial))
            await ensure_identity(config, service.host, service.port, serial)
            await ensure_identity(IdentityConfig(dir=tmp_path / f"{serial}-keys", ca=service.rig.ca_path,
                                                 claim=claim(f"{serial}k", method="keys")),
                                  service.host, service.port, f"{serial}k")
        assert service.endpoint.counters.get("accepted") == 12
        with contextlib.suppress(TimeoutError):
            topic, payload = await asyncio.wait_for(eve.messages.get(), 1.0)
            pytest.fail(f"eavesdropper received {topic}: {payload[:80]!r}")


@pytest.mark.parametrize("topic_filter", [
    "#", "$aws/#", "$aws/certificates/#", "$aws/certificates/+/json/accepted", "dt/#", "cmd/+/#",
    "$aws/provisioning-templates/#",
])
async def test_subscriptions_beyond_the_reply_topics_are_refused(
        service: ProvisioningService, claim: ClaimFactory, topic_filter: str) -> None:
    async with ClaimConnection(service, claim("mallory"), "mallory") as mallory:
        assert await mallory.subscribe(topic_filter) is None


async def test_claim_certificate_cannot_publish_telemetry_to_the_endpoint(
        service: ProvisioningService, claim: ClaimFactory) -> None:
    async with ClaimConnection(service, claim("mallory"), "mallory") as mallory:
        await mallory.publish("dt/plant-7/gateway/gateway-SN-1/telemetry", b'{"v": 1}')
        await asyncio.wait_for(mallory.interrupted.wait(), 10.0)
    assert service.endpoint.counters.get("publish_denied") == 1
    assert service.endpoint.counters.get("requests") == 0
