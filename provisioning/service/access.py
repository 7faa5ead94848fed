"""Keeps the broker's authorisation in step with the registry.

Every certificate in the registry becomes a principal of the broker: its status, the device policy
and the things it is attached to (PENDING_ACTIVATION, REVOKED and INACTIVE certificates may do
nothing), and REVOKED and INACTIVE ones are listed in the CRL. The broker's plugin applies new
rules within a tick and at once closes every connection of a certificate that is no longer ACTIVE,
whatever its client id; the CRL (reloaded on SIGHUP) refuses it at the next handshake.

A reload is asynchronous: the service publishes to a topic that only the new rules allow until the
broker accepts it, so when :meth:`BrokerAccess.refresh` returns the rules are in force (a device
told "registered" can connect at once, a revoked one is gone). Those checks go through one
connection kept open between refreshes; when the broker drops it (a restart), the client
reconnects and the check goes on until its deadline. Several processes (the service, the
``revoke`` command) may refresh; a file lock keeps their writes whole.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import secrets
import time
from pathlib import Path
from typing import Any

from edge_agent.files import write_atomic
from provisioning.aws.export import DEVICE_POLICY_NAME
from provisioning.errors import ProvisioningUnavailable
from provisioning.policy import Principal
from provisioning.service.broker import BrokerControl, BrokerControlError
from provisioning.service.broker_client import BrokerClient
from provisioning.service.registry import AccessEntry, Registry

logger = logging.getLogger(__name__)

PROVISIONER = "edgeferry-provisioner"
"""The service's own identity on the broker: it may publish only to the current rules generation."""
PROVISIONER_POLICY = "edgeferry-provisioner"
BARRIER_TIMEOUT = 10.0


def provisioner_policy(generation: str) -> dict[str, Any]:
    """The service's policy: connect, and publish to the topic that proves ``generation`` in force."""
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": f"arn:aws:iot:*:*:client/{PROVISIONER}*"},
        {"Effect": "Allow", "Action": "iot:Publish", "Resource": f"arn:aws:iot:*:*:topic/edgeferry/acl/{generation}"},
    ]}


def certificate_principal(certificate: AccessEntry) -> Principal:
    """The broker's view of a registry certificate: the device policy, its things, its status."""
    return Principal(certificate.certificate_id, (DEVICE_POLICY_NAME,), tuple(certificate.things),
                     certificate.status)


class BrokerAccess:
    """Writes principals and CRL from the registry, reloads the broker and waits until they are in force."""

    def __init__(self, broker: BrokerControl, registry: Registry, state_dir: Path) -> None:
        self._broker = broker
        self._registry = registry
        self._lock_path = state_dir / "access.lock"
        self._identity_dir = state_dir / "provisioner"
        self._lock = asyncio.Lock()
        self._requested = 0
        self._applied = 0
        self._failed = 0
        """The last request a failed reload covered: its waiters share the failure."""
        self._checker: BrokerClient | None = None

    async def aclose(self) -> None:
        """Close the connection kept for checking reloads."""
        if self._checker is not None:
            checker, self._checker = self._checker, None
            await checker.__aexit__()

    def _identity(self) -> Path:
        if not (self._identity_dir / "device.cert.pem").exists():
            self._broker.issue_identity(PROVISIONER, self._identity_dir, policies=(PROVISIONER_POLICY,),
                                        limited=False)
        return self._identity_dir

    def _client(self, client_id: str) -> BrokerClient:
        directory = self._identity()
        return BrokerClient(self._broker.host, self._broker.port, directory / "device.cert.pem",
                            directory / "device.key.pem", self._broker.ca_path, client_id)

    async def refresh(self) -> None:
        """Bring the broker in line with the registry; concurrent callers share one reload and
        its outcome.

        Raises :class:`ProvisioningUnavailable` when the broker is not running or the new rules
        were not seen in force within ``BARRIER_TIMEOUT``; a later call tries again."""
        self._requested += 1
        wanted = self._requested
        async with self._lock:
            if self._applied >= wanted:
                return
            if self._failed >= wanted:
                raise ProvisioningUnavailable("broker: the access rules could not be brought in force")
            target = self._requested
            generation = secrets.token_hex(8)
            started = time.perf_counter()
            try:
                await asyncio.to_thread(self._write_and_reload, generation)
                await self._wait_in_force(generation)
            except ProvisioningUnavailable:
                self._failed = target
                raise
            self._applied = target
            logger.info("broker_access_refreshed", extra={
                "generation": generation, "seconds": round(time.perf_counter() - started, 3)})

    def _write_and_reload(self, generation: str) -> None:
        self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            certificates = self._registry.access_entries()
            authorization = self._broker.authorization
            for certificate in certificates:
                authorization.principals[certificate.certificate_id] = certificate_principal(certificate)
            authorization.policies[PROVISIONER_POLICY] = provisioner_policy(generation)
            revoked = [c.serial for c in certificates if c.status in ("REVOKED", "INACTIVE")]
            write_atomic(self._broker.crl_path, self._broker.ca.revocation_list(revoked), 0o644)
            try:
                self._broker.reload()
            except BrokerControlError as exc:
                raise ProvisioningUnavailable(f"broker: {exc}") from None

    async def _wait_in_force(self, generation: str) -> None:
        deadline = time.monotonic() + BARRIER_TIMEOUT
        if self._checker is None:
            self._checker = await self._client(f"{PROVISIONER}-{secrets.token_hex(4)}").__aenter__()
        topic = f"edgeferry/acl/{generation}"
        while not await self._checker.publish_allowed(topic, deadline=deadline):
            if time.monotonic() > deadline:
                raise ProvisioningUnavailable("broker: the reloaded rules did not come into force")
            await asyncio.sleep(0.005)
