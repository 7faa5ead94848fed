"""A running provisioning service on the test's rig, and a way to make devices with claims."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from awscrt import mqtt
from awsiot import mqtt_connection_builder

from cloud.rig import Rig
from edge_agent.identity import ClaimConfig
from provisioning import topics
from provisioning.service.api import TemplateEntry
from provisioning.service.hooks import RefuseRegisteredSerials, SerialAllowList
from provisioning.service.service import ProvisioningService
from provisioning.service.templates import DEFAULT_TEMPLATE_NAME, DEFAULT_TEMPLATE_PATH, load_template

TIMEOUT = 20.0
REPLY_FILTERS = (
    topics.CREATE_FROM_CSR + topics.ACCEPTED, topics.CREATE_FROM_CSR + topics.REJECTED,
    topics.CREATE_KEYS + topics.ACCEPTED,
    "$aws/provisioning-templates/+/provision/json/accepted",
    "$aws/provisioning-templates/edgeferry-device/provision/json/accepted",
)
"""What a curious claim holder subscribes to: the reply topics of the provisioning API."""
GUARDED_TEMPLATE = "guarded"
ONCE_TEMPLATE = "once"
"""Behind the hook that refuses a serial number already registered."""
ALLOWED_SERIALS = frozenset(f"ok-{i}" for i in range(10))


@pytest.fixture
async def service(rig: Rig) -> AsyncIterator[ProvisioningService]:
    """The service with the shipped template and a ``guarded`` one behind a serial allow-list."""
    templates = {
        DEFAULT_TEMPLATE_NAME: TemplateEntry(load_template(DEFAULT_TEMPLATE_PATH)),
        GUARDED_TEMPLATE: TemplateEntry(load_template(DEFAULT_TEMPLATE_PATH, GUARDED_TEMPLATE),
                                        SerialAllowList(ALLOWED_SERIALS)),
    }
    async with ProvisioningService(rig, templates) as running:
        templates[ONCE_TEMPLATE] = TemplateEntry(load_template(DEFAULT_TEMPLATE_PATH, ONCE_TEMPLATE),
                                                 RefuseRegisteredSerials(running.registry))
        yield running


ClaimFactory = Callable[..., ClaimConfig]


@pytest.fixture
def claim(service: ProvisioningService, tmp_path: Path) -> ClaimFactory:
    """``claim(serial, template=..., method=...)`` -> a ClaimConfig with a fresh claim certificate."""
    directory = service.issue_claim("factory-line-1", tmp_path / "claim")

    def make(serial: str, *, template: str = DEFAULT_TEMPLATE_NAME, method: str = "csr",
             **parameters: str) -> ClaimConfig:
        return ClaimConfig(certificate=directory / "claim.cert.pem", private_key=directory / "claim.key.pem",
                           template=template, method=method,
                           parameters={"SerialNumber": serial, "Site": "plant-7", **parameters})

    return make


class ClaimConnection:
    """A raw MQTT 3.1.1 connection to the provisioning endpoint with a claim certificate (awscrt),
    to act as a curious or hostile device."""

    def __init__(self, service: ProvisioningService, claim: ClaimConfig, client_id: str) -> None:
        self._loop = asyncio.get_running_loop()
        self.messages: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self.interrupted = asyncio.Event()
        self.connection = mqtt_connection_builder.mtls_from_path(
            endpoint=service.host, port=service.port, cert_filepath=str(claim.certificate),
            pri_key_filepath=str(claim.private_key), ca_filepath=str(service.rig.ca_path),
            client_id=client_id, clean_session=True, keep_alive_secs=60, enable_metrics_collection=False,
            on_connection_interrupted=lambda **_: self._loop.call_soon_threadsafe(self.interrupted.set))

    async def __aenter__(self) -> ClaimConnection:
        await asyncio.wait_for(asyncio.wrap_future(self.connection.connect()), TIMEOUT)
        return self

    async def __aexit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.wrap_future(self.connection.disconnect()), TIMEOUT)

    def _on_message(self, topic: str, payload: bytes, **_: object) -> None:
        self._loop.call_soon_threadsafe(self.messages.put_nowait, (topic, bytes(payload)))

    async def subscribe(self, topic_filter: str) -> mqtt.QoS | None:
        """The granted QoS, or None when the endpoint refused the subscription."""
        future, _ = self.connection.subscribe(topic_filter, mqtt.QoS.AT_LEAST_ONCE, self._on_message)
        try:
            suback = await asyncio.wait_for(asyncio.wrap_future(future), TIMEOUT)
        except mqtt.SubscribeError:
            return None
        granted: mqtt.QoS = suback["qos"]
        return granted

    async def publish(self, topic: str, payload: bytes) -> None:
        future, _ = self.connection.publish(topic, payload, mqtt.QoS.AT_MOST_ONCE)
        await asyncio.wait_for(asyncio.wrap_future(future), TIMEOUT)
