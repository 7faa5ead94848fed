"""The OPC-UA trust list: self-signed and CA-issued server certificates, CRLs, validity, rejection."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from asyncua import ua
from asyncua.ua.status_codes import StatusCodes
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from edge_agent.sources.opcua.trust import ServerNotTrusted, TrustList
from provisioning.pki import CertificateAuthority

SERVER = ua.ApplicationDescription()


def self_signed(name: str, *, days: int = 365, start_days_ago: int = 1) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=start_days_ago))
            .not_valid_after(now - dt.timedelta(days=start_days_ago) + dt.timedelta(days=days))
            .sign(key, hashes.SHA256()))


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def trusted_dir(pki: Path) -> Path:
    path = pki / "trusted" / "certs"
    path.mkdir(parents=True, exist_ok=True)
    return path


async def test_unknown_certificate_is_refused_and_kept_in_rejected(tmp_path: Path) -> None:
    cert = self_signed("plc-7")
    trust = TrustList(tmp_path, "line1")
    with pytest.raises(ServerNotTrusted) as refused:
        await trust.validate(cert, SERVER)
    rejected = list(trust.rejected.iterdir())
    assert len(rejected) == 1
    assert rejected[0].name.startswith("plc-7 [")
    assert rejected[0].read_bytes() == der(cert)
    assert refused.value.code == StatusCodes.BadCertificateUntrusted
    assert f"copy '{rejected[0]}' to '{trust.trusted}/'" in str(refused.value)
    assert "\n" not in str(refused.value)
    with pytest.raises(ServerNotTrusted):  # refused again: the same file, not a second one
        await trust.validate(cert, SERVER)
    assert len(list(trust.rejected.iterdir())) == 1


@pytest.mark.parametrize("encoding", [serialization.Encoding.DER, serialization.Encoding.PEM])
async def test_a_trusted_self_signed_certificate_passes(tmp_path: Path, encoding: serialization.Encoding) -> None:
    cert = self_signed("plc-7")
    (trusted_dir(tmp_path) / "plc-7.cert").write_bytes(cert.public_bytes(encoding))
    await TrustList(tmp_path, "line1").validate(cert, SERVER)


async def test_pinned_certificate_passes_without_the_trust_list(tmp_path: Path) -> None:
    cert = self_signed("plc-7")
    await TrustList(tmp_path, "line1", pinned=cert).validate(cert, SERVER)
    with pytest.raises(ServerNotTrusted):
        await TrustList(tmp_path, "line1", pinned=self_signed("other")).validate(cert, SERVER)


async def test_certificates_issued_by_a_trusted_ca_pass_unless_revoked(tmp_path: Path) -> None:
    ca = CertificateAuthority.open(tmp_path / "ca", "plant CA")
    (trusted_dir(tmp_path) / "plant-ca.pem").write_bytes(ca.cert_pem)
    good = x509.load_pem_x509_certificate(ca.issue("plc-1", server_names=("plc-1",)).cert_pem)
    revoked = x509.load_pem_x509_certificate(ca.issue("plc-2", server_names=("plc-2",)).cert_pem)
    (tmp_path / "trusted" / "crl").mkdir()
    (tmp_path / "trusted" / "crl" / "plant.crl").write_bytes(ca.revocation_list([revoked.serial_number]))
    trust = TrustList(tmp_path, "line1")
    await trust.validate(good, SERVER)
    with pytest.raises(ServerNotTrusted) as refused:
        await trust.validate(revoked, SERVER)
    assert refused.value.code == StatusCodes.BadCertificateRevoked
    other_ca = CertificateAuthority.open(tmp_path / "other", "plant CA")  # same name, other key
    forged = x509.load_pem_x509_certificate(other_ca.issue("plc-3", server_names=("plc-3",)).cert_pem)
    with pytest.raises(ServerNotTrusted):
        await trust.validate(forged, SERVER)


async def test_an_expired_trusted_certificate_is_refused(tmp_path: Path) -> None:
    cert = self_signed("plc-7", days=10, start_days_ago=20)
    (trusted_dir(tmp_path) / "plc-7.der").write_bytes(der(cert))
    with pytest.raises(ServerNotTrusted) as refused:
        await TrustList(tmp_path, "line1").validate(cert, SERVER)
    assert refused.value.code == StatusCodes.BadCertificateTimeInvalid


async def test_an_unreadable_trust_file_is_skipped(tmp_path: Path) -> None:
    cert = self_signed("plc-7")
    (trusted_dir(tmp_path) / "junk.der").write_bytes(b"not a certificate")
    (trusted_dir(tmp_path) / "plc-7.der").write_bytes(der(cert))
    await TrustList(tmp_path, "line1").validate(cert, SERVER)
