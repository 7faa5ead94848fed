"""Builds the asyncua client of one device: endpoint, timeouts, watchdog, security, user."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from asyncua import ua
from asyncua.client.client import Client
from asyncua.crypto.security_policies import (
    SecurityPolicy,
    SecurityPolicyAes128Sha256RsaOaep,
    SecurityPolicyAes256Sha256RsaPss,
    SecurityPolicyBasic256Sha256,
)
from cryptography import x509

from edge_agent.errors import EdgeferryError
from edge_agent.secrets import reveal
from edge_agent.sources.opcua.config import OpcUaDevice
from edge_agent.sources.opcua.trust import TrustList

POLICIES: Final[dict[str, type[SecurityPolicy]]] = {
    "Basic256Sha256": SecurityPolicyBasic256Sha256,
    "Aes128_Sha256_RsaOaep": SecurityPolicyAes128Sha256RsaOaep,
    "Aes256_Sha256_RsaPss": SecurityPolicyAes256Sha256RsaPss,
}

SESSION_TIMEOUT_MS: Final = 60_000
"""The server drops a session (and its subscriptions) this long after the client went silent,
rather than keeping an orphan for asyncua's default hour after a network failure."""


async def build_client(config: OpcUaDevice) -> Client:
    """A client ready to ``connect()``, with auto-reconnect off: the source owns reconnects
    (backoff with full jitter, re-read, gap accounting), asyncua's watchdog only detects loss."""
    client = Client(config.endpoint, timeout=config.timeout, watchdog_intervall=config.watchdog_interval,
                    auto_reconnect=False)
    client.name = client.description = f"edgeferry {config.name}"
    client.application_uri = f"urn:edgeferry:{config.name}"
    client.session_timeout = SESSION_TIMEOUT_MS
    if config.username is not None:
        client.set_user(config.username)
    if config.password is not None:
        client.set_password(reveal(config.password))
    if config.user_certificate is not None:
        await client.load_client_certificate(str(config.user_certificate.certificate))
        await client.load_private_key(config.user_certificate.private_key)
    security = config.security
    if security.policy != "None":
        assert security.certificate is not None
        assert security.private_key is not None
        # OPC-UA Part 4, 5.6.2: the ApplicationUri of the client must be the URI in its
        # certificate's subjectAltName, or the server rejects the session.
        client.application_uri = certificate_uri(security.certificate)
        pinned = load_certificate(security.server_certificate) if security.server_certificate else None
        client.certificate_validator = TrustList(security.pki, config.name, pinned).validate
        await client.set_security(
            POLICIES[security.policy], str(security.certificate), str(security.private_key),
            server_certificate=str(security.server_certificate) if security.server_certificate else None,
            mode=getattr(ua.MessageSecurityMode, security.mode),
        )
    return client


def load_certificate(path: Path) -> x509.Certificate:
    """A DER or PEM certificate; :class:`EdgeferryError` naming the file when it cannot be read."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EdgeferryError(f"cannot read certificate {path}: {exc.strerror}") from None
    try:
        return (x509.load_pem_x509_certificate(data) if data.lstrip().startswith(b"-----")
                else x509.load_der_x509_certificate(data))
    except ValueError:
        raise EdgeferryError(f"{path} is not a PEM or DER certificate") from None


def certificate_uri(path: Path) -> str:
    """The application URI in a certificate's subjectAltName (DER or PEM)."""
    cert = load_certificate(path)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        uris = san.value.get_values_for_type(x509.UniformResourceIdentifier)
    except x509.ExtensionNotFound:
        uris = []
    if not uris:
        raise EdgeferryError(f"certificate {path} has no URI in its subjectAltName (the application URI)")
    return uris[0]
