"""Certificates for provisioned devices: CSR validation and signing with the rig's CA.

IoT Core's certificate ID is the SHA-256 of the certificate (64 hex digits); the same here.
Each device certificate gets a random CN, because the thing it will belong to is not known until
RegisterThing: the broker knows certificates by their ID and grants topics once one is registered.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from provisioning.errors import ProvisioningRejected
from provisioning.pki import CertificateAuthority

ACCEPTED_CURVES = (ec.SECP256R1, ec.SECP384R1)
MIN_RSA_BITS = 2048
"""IoT Core takes RSA keys of 2048 bits and more, and EC keys on NIST P-256 and P-384."""
MAX_CSR_BYTES = 16 * 1024
DevicePublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey


@dataclass(frozen=True, slots=True)
class DeviceCertificate:
    """A certificate the service issued (PENDING_ACTIVATION until RegisterThing)."""

    certificate_id: str
    common_name: str
    serial: int
    pem: str
    private_key_pem: str | None = None
    """Only for CreateKeysAndCertificate, where the service makes the key."""


def invalid_csr(message: str) -> ProvisioningRejected:
    return ProvisioningRejected(400, "InvalidCSR", message)


def parse_csr(pem: object) -> DevicePublicKey:
    """The public key of a valid CSR, or :class:`ProvisioningRejected` (400) saying what is wrong.

    Checks: PEM syntax, self-signature, and the key type and size (EC P-256/P-384, RSA >= 2048).
    """
    if not isinstance(pem, str) or not pem.strip():
        raise invalid_csr("certificateSigningRequest is missing or not a string")
    if len(pem) > MAX_CSR_BYTES:
        raise invalid_csr("certificateSigningRequest is too large")
    try:
        csr = x509.load_pem_x509_csr(pem.encode())
    except ValueError as exc:
        raise invalid_csr(f"certificateSigningRequest is not a PEM CSR: {exc}") from None
    try:
        signature_ok = csr.is_signature_valid
        public_key = csr.public_key()
    except (ValueError, InvalidSignature, x509.UnsupportedGeneralNameType) as exc:
        raise invalid_csr(f"certificateSigningRequest cannot be verified: {exc}") from None
    if not signature_ok:
        raise invalid_csr("certificateSigningRequest signature does not verify")
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size < MIN_RSA_BITS:
            raise invalid_csr(f"certificateSigningRequest RSA key has {public_key.key_size} bits, "
                              f"at least {MIN_RSA_BITS} are required")
        return public_key
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
            public_key.curve, ACCEPTED_CURVES):
        raise invalid_csr("certificateSigningRequest key must be EC P-256/P-384 or RSA")
    return public_key


class DeviceAuthority:
    """Issues device certificates with the rig's CA."""

    def __init__(self, ca: CertificateAuthority) -> None:
        self._ca = ca

    def sign_csr(self, csr_pem: object) -> DeviceCertificate:
        return self._issue(parse_csr(csr_pem))

    def create_keys(self) -> DeviceCertificate:
        return self._issue(None)

    def _issue(self, public_key: DevicePublicKey | None) -> DeviceCertificate:
        common_name = secrets.token_hex(16)
        issued = self._ca.issue(common_name, public_key=public_key)
        cert = x509.load_pem_x509_certificate(issued.cert_pem)
        return DeviceCertificate(
            certificate_id=certificate_id(cert),
            common_name=common_name,
            serial=cert.serial_number,
            pem=issued.cert_pem.decode(),
            private_key_pem=issued.key_pem.decode() if issued.key_pem else None,
        )


def certificate_id(cert: x509.Certificate) -> str:
    """IoT Core's certificate ID: SHA-256 of the DER certificate, lower-case hex."""
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
