"""The device's X.509 identity on disk: certificate, private key (0600), CA, thing name, endpoint.

Layout of an identity directory::

    identity/
      device.cert.pem   the device certificate
      device.key.pem    its private key, created on the device, mode 0600
      root-ca.pem       the CA that signed the broker's certificate
      identity.json     {"thing_name": ..., "endpoint": ..., "certificate_id": ...}

Writes are atomic (temp file, fsync, rename), so a crash never leaves half an identity.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from edge_agent.errors import EdgeferryError
from edge_agent.files import write_atomic
from edge_agent.sources.points import StrictModel

CERT_FILE = "device.cert.pem"
KEY_FILE = "device.key.pem"
CA_FILE = "root-ca.pem"
META_FILE = "identity.json"


class ClaimConfig(StrictModel):
    """Fleet provisioning by claim: the bootstrap certificate and the template to register with."""

    certificate: Path
    private_key: Path
    template: str
    parameters: dict[str, str] = Field(default_factory=dict)
    method: str = Field(default="csr", pattern="^(csr|keys)$")
    """``csr``: CreateCertificateFromCsr (key stays on the device); ``keys``: CreateKeysAndCertificate."""
    endpoint: str | None = None
    """Provisioning endpoint when it is not the broker's (the local rig's provisioning service)."""
    port: int | None = Field(default=None, ge=1, le=65535)


class IdentityConfig(StrictModel):
    dir: Path = Path("identity")
    """Identity store directory."""
    ca: Path | None = None
    """Root CA for the broker (default: ``root-ca.pem`` in ``dir``)."""
    claim: ClaimConfig | None = None
    """Present: provision by claim at first start when ``dir`` holds no device certificate."""


@dataclass(frozen=True, slots=True)
class Identity:
    """A loaded identity: the paths an MQTT client needs and the thing it stands for."""

    thing_name: str
    cert_path: Path
    key_path: Path
    ca_path: Path | None
    endpoint: str | None = None

    @classmethod
    def load(cls, config: IdentityConfig, default_thing: str) -> Identity:
        """Read the store; raise :class:`EdgeferryError` naming what is missing."""
        directory = config.dir
        cert, key = directory / CERT_FILE, directory / KEY_FILE
        meta: dict[str, str] = {}
        if (directory / META_FILE).exists():
            meta = json.loads((directory / META_FILE).read_text())
        for path in (cert, key):
            if not path.exists():
                raise EdgeferryError(f"identity: {path} does not exist (provision the device first)")
        ca = config.ca or (directory / CA_FILE if (directory / CA_FILE).exists() else None)
        return cls(thing_name=meta.get("thing_name", default_thing), cert_path=cert,
                   key_path=key, ca_path=ca, endpoint=meta.get("endpoint"))

    @staticmethod
    def exists(directory: Path) -> bool:
        return (directory / CERT_FILE).exists() and (directory / KEY_FILE).exists()


def store_identity(directory: Path, *, thing_name: str, cert_pem: bytes, key_pem: bytes,
                   ca_pem: bytes | None = None, endpoint: str | None = None,
                   certificate_id: str | None = None) -> None:
    """Save a complete identity; the metadata file is written last and marks it complete."""
    write_atomic(directory / KEY_FILE, key_pem, 0o600)
    write_atomic(directory / CERT_FILE, cert_pem)
    if ca_pem is not None:
        write_atomic(directory / CA_FILE, ca_pem)
    meta = {"thing_name": thing_name, "endpoint": endpoint, "certificate_id": certificate_id}
    write_atomic(directory / META_FILE, json.dumps(meta, indent=2).encode())
