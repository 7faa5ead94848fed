"""Certificate authorities: EC P-256 CAs that sign the broker's, the endpoint's and the devices' certificates.

The local IoT Core (``cloud.rig``) keeps one as its root of trust; the provisioning service keeps
another for claim certificates. The CA key is loaded once and kept in memory, so issuing an identity
costs one EC key and one signature (well under a millisecond), which is what fleets of thousands of
simulated devices need.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from edge_agent.files import write_atomic

VALIDITY = dt.timedelta(days=3650)
_BACKDATE = dt.timedelta(minutes=5)
"""Certificates start a little in the past so a peer whose clock is slightly behind accepts them."""


@dataclass(frozen=True, slots=True)
class IssuedCertificate:
    """A freshly issued certificate and its private key, both PEM."""

    cert_pem: bytes
    key_pem: bytes


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "edgeferry rig"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


class CertificateAuthority:
    """A self-signed CA kept as ``ca.pem`` / ``ca.key.pem`` (0600) in one directory."""

    CERT_FILE = "ca.pem"
    KEY_FILE = "ca.key.pem"

    def __init__(self, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        self.cert = cert
        self._key = key
        self.cert_pem = cert.public_bytes(serialization.Encoding.PEM)

    @classmethod
    def open(cls, directory: Path, common_name: str = "edgeferry rig CA") -> CertificateAuthority:
        """Load the CA from ``directory``, creating it on first use."""
        cert_path, key_path = directory / cls.CERT_FILE, directory / cls.KEY_FILE
        if cert_path.exists() and key_path.exists():
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                raise ValueError(f"{key_path}: not an EC private key")
            return cls(x509.load_pem_x509_certificate(cert_path.read_bytes()), key)
        key = new_key()
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name)).issuer_name(_name(common_name))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE).not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        ca = cls(cert, key)
        write_atomic(key_path, key_pem(key), 0o600)
        write_atomic(cert_path, ca.cert_pem, 0o644)
        return ca

    def issue(self, common_name: str, *, server_names: tuple[str, ...] = (),
              public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey | None = None) -> IssuedCertificate:
        """Sign a certificate for ``common_name``; with ``server_names`` it is a TLS server
        certificate (DNS names and IP addresses as SANs), otherwise a client certificate.

        Without ``public_key`` a new key pair is made and returned; with it (a CSR's key) the
        returned ``key_pem`` is empty.
        """
        key: ec.EllipticCurvePrivateKey | None = None
        if public_key is None:
            key = new_key()
            public_key = key.public_key()
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server_names else ExtendedKeyUsageOID.CLIENT_AUTH
        now = dt.datetime.now(dt.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name)).issuer_name(self.cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE).not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if server_names:
            builder = builder.add_extension(x509.SubjectAlternativeName([_san(n) for n in server_names]),
                                            critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        return IssuedCertificate(cert.public_bytes(serialization.Encoding.PEM),
                                 key_pem(key) if key is not None else b"")

    def revocation_list(self, serials: Iterable[int], *, validity: dt.timedelta = VALIDITY) -> bytes:
        """A PEM CRL signed by this CA that lists ``serials`` (mosquitto's ``crlfile``)."""
        now = dt.datetime.now(dt.UTC)
        builder = (x509.CertificateRevocationListBuilder().issuer_name(self.cert.subject)
                   .last_update(now - _BACKDATE).next_update(now + validity))
        for serial in serials:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build())
        return builder.sign(self._key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def _san(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)
