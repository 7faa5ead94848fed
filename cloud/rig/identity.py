"""Client identities the rig issues, written in the edge agent's identity-store layout.

The layout (file names and ``identity.json``) is the one ``edge_agent.identity`` reads; ``cloud``
does not import ``edge_agent``, so the names are repeated here and a test checks they agree.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from cloud.rig.files import write_private
from provisioning.pki import CertificateAuthority

CERT_FILE = "device.cert.pem"
KEY_FILE = "device.key.pem"
CA_FILE = "root-ca.pem"
META_FILE = "identity.json"


@dataclass(frozen=True, slots=True)
class RigIdentity:
    """Paths an MQTT client needs to connect to the rig as ``name`` (the certificate CN)."""

    name: str
    directory: Path

    @property
    def certificate_id(self) -> str:
        """The certificate's ID as AWS IoT names it: SHA-256 of its DER, hex."""
        return certificate_id(self.cert_path.read_bytes())

    @property
    def cert_path(self) -> Path:
        return self.directory / CERT_FILE

    @property
    def key_path(self) -> Path:
        return self.directory / KEY_FILE

    @property
    def ca_path(self) -> Path:
        return self.directory / CA_FILE


def certificate_id(cert_pem: bytes) -> str:
    """AWS IoT's certificateId of a PEM certificate: the SHA-256 of its DER encoding, hex."""
    der = x509.load_pem_x509_certificate(cert_pem).public_bytes(Encoding.DER)
    return hashlib.sha256(der).hexdigest()


def write_identity(ca: CertificateAuthority, name: str, directory: Path, *,
                   endpoint: str | None = None) -> RigIdentity:
    """Issue a client certificate with CN ``name`` and store it in ``directory`` (key 0600).

    ``identity.json`` is written last: its presence marks a complete identity.
    """
    issued = ca.issue(name)
    write_private(directory / KEY_FILE, issued.key_pem, 0o600, sync=False)
    write_private(directory / CERT_FILE, issued.cert_pem, 0o644, sync=False)
    write_private(directory / CA_FILE, ca.cert_pem, 0o644, sync=False)
    meta = {"thing_name": name, "endpoint": endpoint, "certificate_id": None}
    write_private(directory / META_FILE, json.dumps(meta, indent=2).encode(), 0o644, sync=False)
    return RigIdentity(name, directory)
