"""What the provisioning service needs of the broker it governs, as a structural type.

The local IoT Core (``cloud.rig.Rig``) satisfies :class:`BrokerControl`; ``provisioning`` never
imports it. The application layer (``edgeferry``) builds the rig and hands it in.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from provisioning.pki import CertificateAuthority
from provisioning.policy import Principal


class BrokerControlError(Exception):
    """The broker cannot do what was asked (not running, no port yet...)."""


class Authorization(Protocol):
    """The broker's authorisation: IoT policy documents by name and principals by certificateId,
    applied on reload."""

    policies: dict[str, Mapping[str, Any]]
    principals: dict[str, Principal]


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
    def authorization(self) -> Authorization: ...

    def is_running(self) -> bool: ...

    def issue_identity(self, thing: str, directory: Path, *, policies: tuple[str, ...] = ...,
                       limited: bool = ...) -> Path:
        """Issue a client certificate with CN ``thing``, attached to that thing with ``policies``,
        into ``directory`` (identity-store layout)."""
        ...

    def reload(self) -> None:
        """Apply the authorisation and the CRL to the running broker; :class:`BrokerControlError`
        when it cannot."""
        ...
