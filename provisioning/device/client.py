"""The fleet provisioning MQTT API from the device, through awsiotsdk's identity client.

:class:`IdentityClient` connects with the claim certificate (MQTT 3.1.1, the same code against
IoT Core and the local rig's provisioning endpoint) and turns each call into one awaitable.
``awsiot.iotidentity.IotIdentityClientV2`` subscribes to ``/accepted`` and ``/rejected`` before it
publishes, as fleet-provision-api.md requires. A ``/rejected`` answer becomes
:class:`ProvisioningRejected`; a lost connection or a timeout :class:`ProvisioningUnavailable`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from awscrt import mqtt, mqtt_request_response
from awscrt.exceptions import AwsCrtError
from awsiot import V2ServiceException, iotidentity, mqtt_connection_builder

from provisioning.errors import ProvisioningRejected, ProvisioningUnavailable

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ClaimConnection:
    """Where and how to connect for provisioning."""

    endpoint: str
    port: int
    certificate: Path
    private_key: Path
    ca: Path | None
    client_id: str
    timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class CertificateGrant:
    """A certificate IoT Core issued (``private_key_pem`` only from CreateKeysAndCertificate)."""

    certificate_id: str
    certificate_pem: str
    ownership_token: str
    private_key_pem: str | None = None


@dataclass(frozen=True, slots=True)
class ThingRegistration:
    thing_name: str
    device_configuration: dict[str, str]


class IdentityClient:
    """One claim connection; async context manager."""

    def __init__(self, connection: ClaimConnection) -> None:
        self._settings = connection
        self._connection: mqtt.Connection | None = None
        self._client: iotidentity.IotIdentityClientV2 | None = None

    async def __aenter__(self) -> Self:
        s = self._settings
        # building the TLS context reads files and parses certificates: off the event loop
        connection: mqtt.Connection = await asyncio.to_thread(
            mqtt_connection_builder.mtls_from_path, endpoint=s.endpoint, port=s.port,
            cert_filepath=str(s.certificate), pri_key_filepath=str(s.private_key),
            ca_filepath=str(s.ca) if s.ca else None, client_id=s.client_id, clean_session=True,
            keep_alive_secs=60, tcp_connect_timeout_ms=int(s.timeout * 1000), enable_metrics_collection=False)
        await self._wait(connection.connect())
        self._connection = connection
        options = mqtt_request_response.ClientOptions(
            max_request_response_subscriptions=2, max_streaming_subscriptions=0,
            operation_timeout_in_seconds=max(1, int(s.timeout)))
        self._client = iotidentity.IotIdentityClientV2(connection, options)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._client = None
        if self._connection is not None:
            connection, self._connection = self._connection, None
            try:
                await self._wait(connection.disconnect())
            except ProvisioningUnavailable:
                logger.debug("claim_disconnect_failed", extra={"client_id": self._settings.client_id})

    @property
    def _identity(self) -> iotidentity.IotIdentityClientV2:
        if self._client is None:
            raise ProvisioningUnavailable("provisioning: not connected")
        return self._client

    async def create_certificate_from_csr(self, csr_pem: str) -> CertificateGrant:
        request = iotidentity.CreateCertificateFromCsrRequest(certificate_signing_request=csr_pem)
        response = await self._call(self._identity.create_certificate_from_csr(request))
        return CertificateGrant(response.certificate_id, response.certificate_pem,
                                response.certificate_ownership_token)

    async def create_keys_and_certificate(self) -> CertificateGrant:
        request = iotidentity.CreateKeysAndCertificateRequest()
        response = await self._call(self._identity.create_keys_and_certificate(request))
        return CertificateGrant(response.certificate_id, response.certificate_pem,
                                response.certificate_ownership_token, response.private_key)

    async def register_thing(self, template: str, ownership_token: str,
                             parameters: Mapping[str, str]) -> ThingRegistration:
        request = iotidentity.RegisterThingRequest(template_name=template,
                                                   certificate_ownership_token=ownership_token,
                                                   parameters=dict(parameters))
        response = await self._call(self._identity.register_thing(request))
        return ThingRegistration(response.thing_name, dict(response.device_configuration or {}))

    async def _call(self, future: Future[Any]) -> Any:
        try:
            return await self._wait(future)
        except V2ServiceException as exc:
            error = exc.modeled_error
            if error is not None:
                raise ProvisioningRejected(int(error.status_code or 0), str(error.error_code),
                                           str(error.error_message)) from None
            raise ProvisioningUnavailable(f"provisioning: {exc.message}: {exc.inner_error}") from None

    async def _wait(self, future: Future[Any]) -> Any:
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self._settings.timeout + 5)
        except TimeoutError:
            raise ProvisioningUnavailable(
                f"provisioning: no answer from {self._settings.endpoint}:{self._settings.port}") from None
        except AwsCrtError as exc:
            raise ProvisioningUnavailable(
                f"provisioning: {self._settings.endpoint}:{self._settings.port}: {exc.name}") from None
