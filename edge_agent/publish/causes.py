"""Why a connect to the broker failed, in words, and what to do about it.

The MQTT client reports a failed connect with an awscrt error (``AwsCrtError``: ``name``, ``code``)
or, when the broker answered and refused, a CONNACK reason. Most names say enough on their own
(``AWS_IO_SOCKET_CONNECTION_REFUSED``, ``AWS_IO_DNS_INVALID_NAME``, ...). On Linux, though, awscrt
folds every certificate problem of the TLS handshake into ``AWS_IO_TLS_ERROR_NEGOTIATION_FAILURE``
(or, when the broker refuses the device's certificate, ``AWS_IO_TLS_ERROR_READ_FAILURE``) and
writes the precise reason only to its own log; :func:`probe_tls` then repeats the handshake
with Python's ``ssl`` and the same files to name it (unknown CA, expired, wrong host name, or the
broker refusing this device's certificate).
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

TLS_NEGOTIATION_FAILED = "AWS_IO_TLS_ERROR_NEGOTIATION_FAILURE"
TLS_UNEXPLAINED = frozenset({
    TLS_NEGOTIATION_FAILED, "AWS_IO_TLS_ERROR_READ_FAILURE", "AWS_IO_TLS_ERROR_ALERT_RECEIVED",
    "AWS_IO_TLS_ALERT_NOT_GRACEFUL",
})
"""awscrt's names for a handshake that failed, or a connection the broker closed with a TLS alert
right after it (how a broker refuses a client certificate under TLS 1.3): :func:`probe_tls` can
tell more."""


class ConnackRefused(Exception):
    """The broker answered CONNECT with a refusing CONNACK (reason code >= 0x80)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.name = reason


@dataclass(frozen=True, slots=True)
class Broker:
    """What the agent tried to reach, and with which trust: named in the causes and hints."""

    endpoint: str
    port: int
    ca_path: Path | None
    cert_path: Path
    key_path: Path
    thing: str

    @property
    def address(self) -> str:
        return f"{self.endpoint}:{self.port}"

    @property
    def local(self) -> bool:
        return self.endpoint in ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True, slots=True)
class ConnectCause:
    """``kind`` is a short tag (status line, metrics); ``text`` the cause; ``hint`` what to do."""

    kind: str
    text: str
    hint: str


def _refused(broker: Broker) -> ConnectCause:
    hint = ("is `edgeferry cloud up` running, and is publish.port the port it printed?" if broker.local
            else "check publish.endpoint and publish.port (AWS IoT Core listens on 8883)")
    return ConnectCause("refused", f"connection refused: nothing listens on {broker.address}", hint)


def _unknown_ca(broker: Broker, detail: str) -> ConnectCause:
    ca = f"identity.ca ({broker.ca_path})" if broker.ca_path else "the system trust store"
    return ConnectCause(
        "unknown CA", f"TLS handshake: the broker's certificate does not chain to the CA this device "
        f"trusts ({detail})",
        f"the broker's CA is not the one in {ca}: is another broker listening on {broker.address}, "
        "or is the CA file from another rig? (AWS IoT Core: Amazon Root CA 1)")


def _expired(broker: Broker, detail: str) -> ConnectCause:
    return ConnectCause("certificate expired", f"TLS handshake: the broker's certificate {detail}",
                        "renew the broker's certificate, or correct this device's clock if it is wrong")


def _hostname(broker: Broker) -> ConnectCause:
    return ConnectCause(
        "host name mismatch", f"TLS handshake: the broker's certificate is not valid for "
        f"{broker.endpoint!r}",
        "set publish.endpoint to a name the broker's certificate carries (the local rig's: 127.0.0.1 "
        "or localhost; AWS IoT Core: your ATS endpoint)")


def _device_refused(broker: Broker, detail: str) -> ConnectCause:
    return ConnectCause(
        "device certificate refused", f"TLS handshake: the broker refused this device's certificate "
        f"({detail})",
        "the device certificate must be issued by a CA the broker trusts and not be revoked: "
        "check identity.dir (the local rig: `edgeferry cloud issue-cert`)")


def _dns(broker: Broker, name: str) -> ConnectCause:
    return ConnectCause("DNS", f"cannot resolve {broker.endpoint!r} ({name})",
                        "check publish.endpoint and this device's DNS (AWS IoT Core: "
                        "`aws iot describe-endpoint --endpoint-type iot:Data-ATS`)")


def _timeout(broker: Broker, what: str) -> ConnectCause:
    return ConnectCause("timeout", f"timed out: {what}",
                        f"is {broker.address} an MQTT broker with TLS? check publish.port and any "
                        "firewall on the way")


_DIRECT: dict[str, str] = {
    "AWS_IO_TLS_UNKNOWN_ROOT_CERTIFICATE": "unknown CA",
    "AWS_IO_TLS_NO_ROOT_CERTIFICATE_FOUND": "unknown CA",
    "AWS_IO_TLS_INVALID_CERTIFICATE_CHAIN": "unknown CA",
    "AWS_IO_TLS_CERTIFICATE_EXPIRED": "expired",
    "AWS_IO_TLS_CERTIFICATE_NOT_YET_VALID": "not yet valid",
    "AWS_IO_TLS_HOST_NAME_MISMATCH": "hostname",
    "AWS_IO_TLS_PEER_CERTIFICATE_REVOKED": "device refused",
    "AWS_IO_TLS_BAD_PEER_CERTIFICATE": "device refused",
    "AWS_IO_TLS_PEER_CERTIFICATE_UNKNOWN": "device refused",
    "AWS_IO_TLS_PEER_CERTIFICATE_EXPIRED": "device refused",
}
"""awscrt names that already say which certificate problem it was (other TLS back-ends than s2n)."""


def error_name(error: BaseException | None) -> str:
    return str(getattr(error, "name", "")) or (type(error).__name__ if error is not None else "unknown")


def explain(error: BaseException | None, broker: Broker) -> ConnectCause:
    """The cause of a failed connect from the client's error alone."""
    name = error_name(error)
    if isinstance(error, ConnackRefused):
        hint = (f"the broker does not let this certificate connect as client id {broker.thing!r} "
                "(AWS IoT policy: iot:Connect)" if name == "NOT_AUTHORIZED"
                else "see the broker's log for why it refused")
        return ConnectCause("refused by broker", f"the broker refused the connection: CONNACK {name}", hint)
    direct = _DIRECT.get(name)
    if direct is not None:
        return _certificate_cause(direct, broker, name)
    if name == "AWS_IO_SOCKET_CONNECTION_REFUSED":
        return _refused(broker)
    if name.startswith("AWS_IO_DNS_"):
        return _dns(broker, name)
    if name == "AWS_IO_TLS_NEGOTIATION_TIMEOUT":
        return _timeout(broker, f"{broker.address} took the connection but no TLS handshake followed")
    if name in ("AWS_IO_SOCKET_TIMEOUT", "AWS_IO_SOCKET_NO_ROUTE_TO_HOST", "AWS_IO_SOCKET_NETWORK_DOWN"):
        return _timeout(broker, f"connecting to {broker.address} ({name})")
    if name == "AWS_ERROR_MQTT5_CONNACK_TIMEOUT":
        return _timeout(broker, f"{broker.address} completed TLS but sent no CONNACK")
    if name == "AWS_AUTH_SIGNING_NO_CREDENTIALS":
        return ConnectCause("no credentials", "the IoT credentials provider gave no credentials to sign with",
                            "check publish.auth.credentials_endpoint and publish.auth.role_alias; the "
                            "thing's policy must allow iot:AssumeRoleWithCertificate on the role alias")
    if name == "AWS_ERROR_HTTP_WEBSOCKET_UPGRADE_FAILURE":
        return ConnectCause("WebSocket refused", f"{broker.address} refused the WebSocket upgrade",
                            "SigV4: check publish.auth.region and the role's iot:Connect permission; "
                            "custom authorizer: check its name and token; or a proxy on the way refused it")
    if name in TLS_UNEXPLAINED:
        return ConnectCause("TLS", f"TLS with {broker.address} failed ({name})",
                            "check identity.ca, the device certificate and publish.endpoint")
    message = str(getattr(error, "message", "") or error or "")
    return ConnectCause("error", f"{name}: {message}".rstrip(": "),
                        f"check publish.endpoint and publish.port ({broker.address})")


def _certificate_cause(kind: str, broker: Broker, detail: str) -> ConnectCause:
    if kind == "unknown CA":
        return _unknown_ca(broker, detail)
    if kind == "expired":
        return _expired(broker, "has expired")
    if kind == "not yet valid":
        return _expired(broker, "is not valid yet")
    if kind == "hostname":
        return _hostname(broker)
    return _device_refused(broker, detail)


_VERIFY_CODES = {
    10: "expired",      # X509_V_ERR_CERT_HAS_EXPIRED
    9: "not yet valid",  # X509_V_ERR_CERT_NOT_YET_VALID
    62: "hostname",     # X509_V_ERR_HOSTNAME_MISMATCH
    64: "hostname",     # X509_V_ERR_IP_ADDRESS_MISMATCH
}
"""OpenSSL verify results that are not "does not chain to a trusted CA" (2, 18, 19, 20, 21, ...)."""


def probe_tls(broker: Broker, timeout: float = 5.0) -> ConnectCause | None:
    """Repeat the mutual-TLS handshake with Python's ``ssl`` to name a certificate problem.

    Blocking (run it in a thread). None when the handshake succeeds and the broker does not
    refuse the device's certificate within a second, or when the probe cannot connect at all.
    """
    context = ssl.create_default_context(cafile=str(broker.ca_path) if broker.ca_path else None)
    try:
        context.load_cert_chain(str(broker.cert_path), str(broker.key_path))
        with socket.create_connection((broker.endpoint, broker.port), timeout=timeout) as raw, \
                context.wrap_socket(raw, server_hostname=broker.endpoint) as tls:
            tls.settimeout(1.0)
            tls.recv(1)  # TLS 1.3: the broker's verdict on our certificate arrives after the handshake
    except ssl.SSLCertVerificationError as exc:
        detail = str(exc.verify_message)
        kind = _VERIFY_CODES.get(exc.verify_code, "unknown CA")
        return _certificate_cause(kind, broker, detail)
    except ssl.SSLError as exc:
        if "ALERT" in str(exc.reason or ""):
            return _device_refused(broker, str(exc.reason).lower())
        return None
    except OSError:  # timeout after a good handshake, connection reset, no route: not a certificate
        return None
    return None
