"""What the provisioning service needs of the broker it governs, as a structural type.

The local IoT Core (``cloud.rig.Rig``) satisfies :class:`BrokerControl`; ``provisioning`` never
imports it. The application layer (``edgeferry``) builds the rig and hands it in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from provisioning.grants import TopicGrant
from provisioning.pki import CertificateAuthority


class BrokerControlError(Exception):
    """The broker cannot do what was asked (not running, no port yet...)."""


class UserGrants(Protocol):
    """The broker's ACL policy: per-user grants keyed by certificate CN, applied on reload."""

    users: dict[str, list[TopicGrant]]


class BrokerControl(Protocol):
    """A running MQTT broker with mutual TLS that the service can reconfigure."""

    @property
    def directory(self) -> Path:
        """The broker's state directory; the service keeps its own state under it."""
        ...

    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...

    @property
    def ca(self) -> CertificateAuthority:
        """The CA the broker trusts for clients and that signed its server certificate."""
        ...

    @property
    def ca_path(self) -> Path: ...

    @property
    def crl_path(self) -> Path:
        """Where the broker reads its certificate revocation list on reload."""
        ...

    @property
    def acl(self) -> UserGrants: ...

    def is_running(self) -> bool: ...

    def issue_identity(self, thing: str, directory: Path) -> Path:
        """Issue a client certificate with CN ``thing`` into ``directory`` (identity-store layout)."""
        ...

    def reload(self) -> None:
        """Apply the ACL policy and the CRL to the running broker; :class:`BrokerControlError`
        when it cannot."""
        ...
