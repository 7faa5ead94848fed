"""The device's key pair and CSR: EC P-256, made on the device; the key never leaves it."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def new_private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def private_key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def load_private_key(pem: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("not an EC private key")
    return key


def certificate_signing_request(key: ec.EllipticCurvePrivateKey, common_name: str) -> str:
    """A PEM CSR for ``key``; IoT Core keeps only its public key, the subject is informative."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def certificate_matches_key(cert_pem: str, key: ec.EllipticCurvePrivateKey) -> bool:
    """Whether a certificate carries this key's public half."""
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    return cert.public_key() == key.public_key()
