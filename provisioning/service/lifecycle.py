"""Certificate lifecycle operations the operator runs: revoking a thing's certificates.

Revocation must cut a device off within seconds: the registry marks its certificates REVOKED,
the broker closes every connection of those certificates, whatever their client ids, and its CRL
lists them (in force when :meth:`BrokerAccess.refresh` returns); a reconnect fails the TLS
handshake.
"""

from __future__ import annotations

import logging

from edge_agent.errors import EdgeferryError
from provisioning.service.access import BrokerAccess
from provisioning.service.broker import BrokerControl
from provisioning.service.registry import Registry
from provisioning.service.service import state_dir

logger = logging.getLogger(__name__)


async def revoke_thing(rig: BrokerControl, registry: Registry, thing: str) -> list[str]:
    """Revoke every certificate attached to ``thing`` and cut its connection; the certificate IDs."""
    record = registry.thing(thing)
    if record is None:
        raise EdgeferryError(f"provision: no thing named {thing!r} in {registry.path}")
    revoked = [c.certificate_id for c in record.certificates if c.status != "REVOKED"]
    for certificate_id in revoked:
        registry.set_status(certificate_id, "REVOKED")
    if not rig.is_running():
        logger.warning("revoke_broker_not_running", extra={"thing": thing})
        return revoked
    access = BrokerAccess(rig, registry, state_dir(rig))
    try:
        await access.refresh()
    finally:
        await access.aclose()
    logger.info("thing_revoked", extra={"thing": thing, "certificates": len(revoked)})
    return revoked
