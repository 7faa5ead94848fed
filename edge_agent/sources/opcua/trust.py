"""Which OPC-UA server certificates the agent trusts: a trust list on disk, as OPC-UA tools keep it.

Layout (the directory store of OPC-UA Part 12, Annex F, as UaExpert and the .NET stack use it)::

    <pki>/trusted/certs/    server certificates trusted as they are (typical: self-signed PLCs),
                            or CA certificates whose directly issued server certificates are trusted
    <pki>/trusted/crl/      CRLs of those CAs (optional)
    <pki>/rejected/certs/   certificates of servers refused, named ``<CN> [<SHA-1 thumbprint>].der``

An unknown server certificate is refused and written to ``rejected/certs``; the one-line error
says which file to copy to ``trusted/certs`` to trust it. The check runs when the session is
created, before any user credentials are sent (asyncua calls it from ``create_session``).
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import re
from pathlib import Path

from asyncua import ua
from asyncua.ua.status_codes import StatusCodes
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from edge_agent.errors import EdgeferryError

logger = logging.getLogger(__name__)


class ServerNotTrusted(EdgeferryError):
    """The server's certificate is not in the trust list (or expired, or revoked)."""

    def __init__(self, message: str, code: int = StatusCodes.BadCertificateUntrusted) -> None:
        super().__init__(message)
        self.code = code


class TrustList:
    """A trust list directory; :meth:`validate` is asyncua's ``certificate_validator``."""

    def __init__(self, directory: Path, device: str, pinned: x509.Certificate | None = None) -> None:
        self.directory = directory
        self.device = device
        self._pinned = pinned

    @property
    def trusted(self) -> Path:
        return self.directory / "trusted" / "certs"

    @property
    def rejected(self) -> Path:
        return self.directory / "rejected" / "certs"

    async def validate(self, certificate: x509.Certificate, _server: ua.ApplicationDescription) -> None:
        """Return if ``certificate`` is trusted now; else raise :class:`ServerNotTrusted` (after
        writing an unknown certificate to ``rejected/certs``)."""
        now = datetime.datetime.now(datetime.UTC)
        if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
            raise ServerNotTrusted(
                f"opcua {self.device}: the server certificate {common_name(certificate)!r} is outside its "
                f"validity ({certificate.not_valid_before_utc:%Y-%m-%d} to "
                f"{certificate.not_valid_after_utc:%Y-%m-%d})", StatusCodes.BadCertificateTimeInvalid)
        issuer = self._trusted_by(certificate)
        if issuer is None:
            path = self.reject(certificate)
            raise ServerNotTrusted(
                f"opcua {self.device}: server certificate {common_name(certificate)!r} is not trusted; "
                f"to trust it, copy '{path}' to '{self.trusted}/'")
        if issuer is not certificate and self._revoked(certificate, issuer):
            raise ServerNotTrusted(
                f"opcua {self.device}: the server certificate {common_name(certificate)!r} is revoked "
                f"by its CA's CRL in {self.directory / 'trusted' / 'crl'}", StatusCodes.BadCertificateRevoked)

    def _trusted_by(self, certificate: x509.Certificate) -> x509.Certificate | None:
        """The trusted certificate that vouches for ``certificate``: itself, or the CA that issued it."""
        if self._pinned is not None and self._pinned == certificate:
            return certificate
        for candidate in load_certificates(self.trusted):
            if candidate == certificate:
                return certificate
            if _is_ca(candidate) and candidate.subject == certificate.issuer:
                try:
                    certificate.verify_directly_issued_by(candidate)
                except (ValueError, TypeError, InvalidSignature):
                    continue
                return candidate
        return None

    def _revoked(self, certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
        for path in sorted((self.directory / "trusted" / "crl").glob("*")):
            data = path.read_bytes()
            try:
                crl = (x509.load_pem_x509_crl(data) if data.lstrip().startswith(b"-----")
                       else x509.load_der_x509_crl(data))
            except ValueError:
                logger.warning("opcua_crl_unreadable", extra={"path": str(path)})
                continue
            if (crl.issuer == issuer.subject and crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
                    and crl.get_revoked_certificate_by_serial_number(certificate.serial_number) is not None):
                return True
        return False

    def reject(self, certificate: x509.Certificate) -> Path:
        """Write ``certificate`` (DER) to ``rejected/certs`` and return its path."""
        self.rejected.mkdir(parents=True, exist_ok=True)
        self.trusted.mkdir(parents=True, exist_ok=True)
        der = certificate.public_bytes(serialization.Encoding.DER)
        name = re.sub(r"[^A-Za-z0-9 ._-]", "_", common_name(certificate)) or "server"
        path = self.rejected / f"{name} [{hashlib.sha1(der).hexdigest().upper()}].der"  # the OPC-UA thumbprint is SHA-1
        if not path.exists():
            path.write_bytes(der)
        return path


def load_certificates(directory: Path) -> list[x509.Certificate]:
    """Every DER or PEM certificate in ``directory`` (unreadable files are logged and skipped)."""
    found = []
    for path in sorted(directory.glob("*")) if directory.is_dir() else []:
        data = path.read_bytes()
        try:
            found += (x509.load_pem_x509_certificates(data) if data.lstrip().startswith(b"-----")
                      else [x509.load_der_x509_certificate(data)])
        except ValueError:
            logger.warning("opcua_trusted_certificate_unreadable", extra={"path": str(path)})
    return found


def common_name(certificate: x509.Certificate) -> str:
    names = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(names[0].value) if names else certificate.subject.rfc4514_string()


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return bool(certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False
