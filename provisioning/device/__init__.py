"""Device side of fleet provisioning by claim: claim certificate -> own certificate -> thing.

:func:`ensure_identity` is what an agent calls at start: a provisioned device returns its stored
identity at once; otherwise it provisions with the claim configured in ``IdentityConfig.claim``,
resuming a provisioning that a restart interrupted (see :mod:`provisioning.device.pending`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from edge_agent.backoff import Backoff
from edge_agent.errors import EdgeferryError
from edge_agent.identity import ClaimConfig, Identity, IdentityConfig, store_identity
from provisioning.device import keys
from provisioning.device.client import ClaimConnection, IdentityClient, ThingRegistration
from provisioning.device.pending import IssuedCertificate, PendingProvisioning
from provisioning.errors import ProvisioningRejected, ProvisioningUnavailable

__all__ = ["RetryPolicy", "ensure_identity", "provision"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How provisioning retries what retrying can help (throttling, 5xx, timeouts): at most
    ``attempts`` tries, the waits between them drawn by :class:`edge_agent.backoff.Backoff`
    (exponential from ``initial``, capped at ``maximum``, full jitter). Immutable, so one policy
    can serve many devices provisioning at once."""

    attempts: int = 6
    initial: float = 1.0
    maximum: float = 60.0

    def backoff(self) -> Backoff:
        """A fresh backoff for one provisioning (it counts its own attempts)."""
        return Backoff(base=self.initial, cap=self.maximum)


async def ensure_identity(identity_config: IdentityConfig, endpoint: str, port: int, thing_hint: str,
                          *, retry: RetryPolicy = RetryPolicy()) -> Identity:
    """The device's identity: loaded if the store is complete, else provisioned by claim first.

    ``endpoint`` and ``port`` are the broker's; the claim connection goes there too unless the
    claim names its own (``ClaimConfig.endpoint``/``port``: the local rig's provisioning service).
    ``thing_hint`` is the thing name used when the store has none, and the MQTT client id of the
    claim connection. Raises :class:`ProvisioningRejected` for a refusal retrying cannot fix.
    """
    claim = identity_config.claim
    if not _complete(identity_config.dir):
        if claim is None:
            raise EdgeferryError(f"identity: {identity_config.dir} holds no device certificate and no "
                                 "claim is configured to provision one")
        registration = await provision(claim, identity_config.dir, endpoint=claim.endpoint or endpoint,
                                       port=claim.port or port, ca=identity_config.ca, client_id=thing_hint,
                                       retry=retry, broker_endpoint=endpoint)
        if registration.thing_name != thing_hint:
            # the broker will grant this certificate the topics of the registered thing only
            logger.warning("provisioned_thing_differs",
                           extra={"thing": registration.thing_name, "thing_hint": thing_hint})
    return Identity.load(identity_config, thing_hint)


async def provision(claim: ClaimConfig, directory: Path, *, endpoint: str, port: int, ca: Path | None,
                    client_id: str, retry: RetryPolicy = RetryPolicy(), answer_within: float = 30.0,
                    broker_endpoint: str | None = None) -> ThingRegistration:
    """Provision by claim into the identity store ``directory``; retry what can be retried.

    A retry keeps the certificate already issued while its ownership token is valid (a
    RegisterThing answered InternalFailure is retried with the same token).
    ``broker_endpoint`` is recorded in the identity (default: ``endpoint``)."""
    connection = ClaimConnection(endpoint, port, claim.certificate, claim.private_key, ca, client_id,
                                 answer_within)
    backoff = retry.backoff()
    for attempt in range(retry.attempts):
        try:
            return await _provision_once(claim, directory, connection, broker_endpoint or endpoint)
        except (ProvisioningRejected, ProvisioningUnavailable) as exc:
            retryable = isinstance(exc, ProvisioningUnavailable) or exc.retryable
            if not retryable or attempt + 1 == retry.attempts:
                raise
            delay = backoff.next()
            logger.warning("provisioning_retry", extra={"client_id": client_id, "attempt": attempt + 1,
                                                        "delay": round(delay, 2), "error": str(exc)})
            await asyncio.sleep(delay)
    raise AssertionError("unreachable: the last attempt raises")


async def _provision_once(claim: ClaimConfig, directory: Path, connection: ClaimConnection,
                          broker_endpoint: str) -> ThingRegistration:
    pending = PendingProvisioning(directory)
    async with IdentityClient(connection) as client:
        issued = pending.certificate()
        if issued is None or not issued.token_valid() or pending.key() is None:
            issued = await _new_certificate(client, claim, pending, connection.client_id)
        try:
            registration = await _register(client, claim, issued)
        except ProvisioningRejected as exc:
            if exc.error_code != "InvalidCertificateOwnershipToken":
                raise
            logger.warning("provisioning_token_refused", extra={"client_id": connection.client_id})
            issued = await _new_certificate(client, claim, pending, connection.client_id)
            registration = await _register(client, claim, issued)
    key_pem = pending.key()
    if key_pem is None:
        raise EdgeferryError(f"provisioning: the private key in {pending.directory} disappeared")
    ca_pem = connection.ca.read_bytes() if connection.ca is not None else None
    await asyncio.to_thread(
        store_identity, directory, thing_name=registration.thing_name,
        cert_pem=issued.certificate_pem.encode(), key_pem=key_pem, ca_pem=ca_pem,
        endpoint=broker_endpoint, certificate_id=issued.certificate_id)
    await asyncio.to_thread(pending.clear)
    logger.info("device_provisioned", extra={"thing": registration.thing_name,
                                             "certificate_id": issued.certificate_id})
    return registration


async def _new_certificate(client: IdentityClient, claim: ClaimConfig, pending: PendingProvisioning,
                           client_id: str) -> IssuedCertificate:
    """A new certificate from IoT Core, its key (0600) and ownership token saved before use."""
    if claim.method == "keys":
        grant = await client.create_keys_and_certificate()
        if grant.private_key_pem is None:
            raise ProvisioningRejected(500, "InvalidResponse", "CreateKeysAndCertificate returned no key")
        await asyncio.to_thread(pending.save_key, grant.private_key_pem.encode())
    else:
        key = keys.new_private_key()
        await asyncio.to_thread(pending.save_key, keys.private_key_pem(key))
        grant = await client.create_certificate_from_csr(keys.certificate_signing_request(key, client_id))
        if not keys.certificate_matches_key(grant.certificate_pem, key):
            raise ProvisioningRejected(500, "InvalidResponse", "the issued certificate is not for our key")
    issued = IssuedCertificate(grant.certificate_id, grant.certificate_pem, grant.ownership_token,
                               time.time())
    await asyncio.to_thread(pending.save_certificate, issued)
    return issued


async def _register(client: IdentityClient, claim: ClaimConfig,
                    issued: IssuedCertificate) -> ThingRegistration:
    return await client.register_thing(claim.template, issued.ownership_token, claim.parameters)


def _complete(directory: Path) -> bool:
    return Identity.exists(directory) and (directory / "identity.json").exists()
