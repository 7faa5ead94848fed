"""Keeps the broker's access rules in step with the registry.

Only ACTIVE certificates get topics: those of the things they are attached to (the rig's thing
patterns with the thing's name in place of ``%u``). REVOKED and INACTIVE certificates are denied
every topic and listed in the CRL. Mosquitto 2.0 reloads both on SIGHUP (mosquitto.conf(5):
acl_file "Reloaded on reload signal"; listener TLS settings are reloaded on SIGHUP since 2.0) and
applies the ACL to connections that are already open. It does not drop them, nor re-check their
certificate against the new CRL, so a revoked device's connection is taken over: a client that
connects with the same client id makes the broker close the old one, and the revoked certificate's
reconnect then fails the TLS handshake.

A reload is asynchronous: after SIGHUP the service publishes to a topic that only the new ACL
allows until the broker accepts it, so when :meth:`BrokerAccess.refresh` returns the rules are in
force (a device told "registered" can publish at once). Those checks go through one connection
kept open between refreshes; when the broker drops it (a restart, or a broker that closes the
connection of a client whose publish it denied, as mosquitto 2.0.11 does with
``max_queued_messages 0``), the client reconnects and the check goes on until its deadline.
Several processes (the service, the ``revoke`` command) may refresh; a file lock keeps their
writes whole.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import secrets
import time
from pathlib import Path

from edge_agent.files import write_atomic
from provisioning.errors import ProvisioningUnavailable
from provisioning.grants import THING_PATTERNS, TopicGrant
from provisioning.service.broker import BrokerControl, BrokerControlError
from provisioning.service.broker_client import BrokerClient
from provisioning.service.registry import AccessEntry, Registry

logger = logging.getLogger(__name__)

PROVISIONER = "edgeferry-provisioner"
"""The service's own identity on the broker: it may publish only to the current ACL generation."""
DENY_ALL = (TopicGrant("deny", "#"), TopicGrant("deny", "$aws/#"))
BARRIER_TIMEOUT = 10.0


def thing_grants(thing: str) -> list[TopicGrant]:
    """What a thing's certificate may do: the thing patterns for this thing's name."""
    return [TopicGrant(g.access, g.topic.replace("%u", thing)) for g in THING_PATTERNS]


def certificate_grants(certificate: AccessEntry) -> list[TopicGrant] | None:
    """The ACL block for a certificate (None: none, as for PENDING_ACTIVATION)."""
    if certificate.status == "ACTIVE":
        return [grant for thing in certificate.things for grant in thing_grants(thing)]
    if certificate.status in ("REVOKED", "INACTIVE"):
        return list(DENY_ALL)
    return None


class BrokerAccess:
    """Writes ACL and CRL from the registry, reloads the broker and waits until they are in force."""

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
            self._broker.issue_identity(PROVISIONER, self._identity_dir)
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

    async def disconnect(self, thing: str) -> None:
        """Close the broker connection that uses ``thing`` as its client id (session takeover)."""
        async with self._client(thing):
            pass
        logger.info("thing_disconnected", extra={"thing": thing})

    def _write_and_reload(self, generation: str) -> None:
        self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            certificates = self._registry.access_entries()
            users = self._broker.acl.users
            for certificate in certificates:
                grants = certificate_grants(certificate)
                if grants is None:
                    users.pop(certificate.common_name, None)
                else:
                    users[certificate.common_name] = grants
            users[PROVISIONER] = [TopicGrant("write", f"edgeferry/acl/{generation}")]
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
                raise ProvisioningUnavailable("broker: the reloaded ACL did not come into force")
            await asyncio.sleep(0.005)
