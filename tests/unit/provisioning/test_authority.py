"""CSR validation: what IoT Core would refuse is refused with 400 InvalidCSR."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from provisioning.device import keys
from provisioning.errors import ProvisioningRejected
from provisioning.service.authority import parse_csr


def test_valid_p256_csr_gives_its_public_key() -> None:
    key = keys.new_private_key()
    assert parse_csr(keys.certificate_signing_request(key, "d")) == key.public_key()


def _csr(key: ec.EllipticCurvePrivateKey) -> str:
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "d")]))
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


def _tampered() -> str:
    """A CSR whose signature does not match: the subject's bytes changed after signing."""
    der = bytearray(x509.load_pem_x509_csr(_csr(keys.new_private_key()).encode()).public_bytes(
        serialization.Encoding.DER))
    at = der.index(b"d", 20)
    der[at] = ord("e")
    return x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM).decode()


@pytest.mark.parametrize("csr", [None, "", 42, "garbage", "x" * 20_000, _csr(ec.generate_private_key(ec.SECP521R1())),
                                 _tampered()])
def test_bad_csrs_are_invalid_csr(csr: object) -> None:
    with pytest.raises(ProvisioningRejected) as refused:
        parse_csr(csr)
    assert (refused.value.status_code, refused.value.error_code) == (400, "InvalidCSR")
