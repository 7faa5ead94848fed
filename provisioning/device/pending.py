"""A provisioning in progress, on disk beside the identity store, so a restart resumes it.

``<identity dir>/.provisioning/`` holds ``key.pem`` (0600) and, once IoT Core issued it,
``certificate.json`` (0600: it carries the ownership token). Resume rules:

- a key without a certificate: the CSR's answer was lost; start again with a fresh key;
- a certificate whose ownership token is still valid (1 hour, less a margin): redo RegisterThing;
- a certificate whose token has expired: IoT Core deletes such certificates; start again.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from edge_agent.files import write_atomic

TOKEN_LIFETIME = 3600.0
TOKEN_MARGIN = 300.0
"""Do not start a RegisterThing with a token that has less than this left."""


@dataclass(frozen=True, slots=True)
class IssuedCertificate:
    certificate_id: str
    certificate_pem: str
    ownership_token: str
    issued_at: float

    def token_valid(self, now: float | None = None) -> bool:
        at = time.time() if now is None else now
        return at < self.issued_at + TOKEN_LIFETIME - TOKEN_MARGIN


class PendingProvisioning:
    """The on-disk state of one device's provisioning."""

    def __init__(self, identity_dir: Path) -> None:
        self.directory = identity_dir / ".provisioning"
        self.key_path = self.directory / "key.pem"
        self._certificate_path = self.directory / "certificate.json"

    def key(self) -> bytes | None:
        return self.key_path.read_bytes() if self.key_path.exists() else None

    def save_key(self, pem: bytes) -> None:
        """Store the key (0600) and forget any certificate issued for an older key."""
        self._certificate_path.unlink(missing_ok=True)
        write_atomic(self.key_path, pem, 0o600)

    def certificate(self) -> IssuedCertificate | None:
        try:
            return IssuedCertificate(**json.loads(self._certificate_path.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def save_certificate(self, issued: IssuedCertificate) -> None:
        write_atomic(self._certificate_path, json.dumps(asdict(issued)).encode(), 0o600)

    def clear(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
