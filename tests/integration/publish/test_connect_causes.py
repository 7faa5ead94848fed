"""A broker that cannot be reached is reported at WARNING with the cause in words and what to do.

Each cause is produced for real against awscrt's MQTT 5 client: a closed port, the rig's Mosquitto
with a device that trusts another CA or holds a certificate of another CA, TLS listeners presenting an expired certificate or one for
another host name (the handshake fails before any MQTT is spoken, so any TLS server that asks for
a client certificate serves), a listening socket that never answers, and a name that DNS cannot
resolve.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from cloud.rig import Rig
from edge_agent.identity import Identity, IdentityConfig
from edge_agent.publish.config import MqttPublishConfig
from edge_agent.publish.mqtt import MqttSink
from provisioning.pki import CertificateAuthority, key_pem, new_key
from tests.fixtures.broker import wait_until
from tests.integration.publish.test_mqtt_sink import sink_config

THING = "pump-1"
Listener = Callable[..., Awaitable[int]]
MQTT_LOGGER = "edge_agent.publish.mqtt"


def server_certificate(ca: CertificateAuthority, name: str, *, expired: bool = False) -> tuple[bytes, bytes]:
    """A TLS server certificate for ``name`` signed by ``ca`` (PEM cert, PEM key)."""
    key = new_key()
    now = dt.datetime.now(dt.UTC)
    valid = (now - dt.timedelta(days=10), now - dt.timedelta(days=1)) if expired else \
        (now - dt.timedelta(days=1), now + dt.timedelta(days=10))
    san = x509.SubjectAlternativeName([x509.DNSName(name)])
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, name)]))
            .issuer_name(ca.cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(valid[0]).not_valid_after(valid[1])
            .add_extension(san, critical=False)
            .sign(ca._key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM), key_pem(key)


@pytest.fixture
async def tls_listener(rig: Rig, tmp_path: Path) -> AsyncIterator[Listener]:
    """Start a TLS listener presenting a certificate from the rig's CA; returns its port."""
    servers: list[asyncio.Server] = []

    async def start(name: str, *, expired: bool = False) -> int:
        cert, key = server_certificate(rig.ca, name, expired=expired)
        (tmp_path / "srv.pem").write_bytes(cert)
        (tmp_path / "srv.key").write_bytes(key)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tmp_path / "srv.pem", tmp_path / "srv.key")
        context.verify_mode = ssl.CERT_OPTIONAL  # awscrt's client insists on being asked for its cert
        context.load_verify_locations(rig.ca_path)

        async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(1)
            writer.close()

        server = await asyncio.start_server(hold, "127.0.0.1", 0, ssl=context)
        servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    yield start
    for server in servers:
        server.close()


def identity(rig: Rig, tmp_path: Path, *, ca: Path | None = None) -> Identity:
    directory = rig.issue_identity(THING, tmp_path / THING)
    return Identity.load(IdentityConfig(dir=directory, ca=ca), THING)


async def first_warning(caplog: pytest.LogCaptureFixture, config: MqttPublishConfig, ident: Identity,
                        within: float = 40.0) -> tuple[str, str]:
    """Run a sink until it logs its first connect failure at WARNING; its cause and hint."""
    caplog.set_level(logging.INFO)

    def warnings() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name == MQTT_LOGGER and r.levelno == logging.WARNING]

    async with MqttSink(config, ident) as sink:
        await wait_until(lambda: bool(warnings()), within)
        assert sink.counters.snapshot()["link_problem"]
    record = warnings()[0]
    assert record.getMessage() == "mqtt_connect_failed"
    return str(getattr(record, "cause")), str(getattr(record, "hint"))  # noqa: B009


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_refused_port_asks_whether_the_rig_runs(rig: Rig, tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    port = closed_port()
    cause, hint = await first_warning(caplog, sink_config(rig, port=port), identity(rig, tmp_path))
    assert f"connection refused: nothing listens on 127.0.0.1:{port}" in cause
    assert "`edgeferry cloud up` running" in hint


async def test_broker_with_another_ca_is_refused_and_named(rig: Rig, tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    rig.start()
    other = CertificateAuthority.open(tmp_path / "other-ca", "another CA")
    ident = identity(rig, tmp_path, ca=tmp_path / "other-ca" / "ca.pem")
    cause, hint = await first_warning(caplog, sink_config(rig), ident)
    assert "does not chain to the CA this device trusts" in cause
    assert f"the broker's CA is not the one in identity.ca ({tmp_path / 'other-ca' / 'ca.pem'})" in hint
    assert other.cert_pem  # the CA the device trusts is a real, different one


async def test_device_certificate_the_broker_refuses(rig: Rig, tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    """A certificate from another rig's CA: the broker ends the TLS session with an alert."""
    rig.start()
    directory = Rig(tmp_path / "other-rig").issue_identity(THING, tmp_path / THING)
    ident = Identity.load(IdentityConfig(dir=directory, ca=rig.ca_path), THING)
    cause, hint = await first_warning(caplog, sink_config(rig), ident)
    assert "the broker refused this device's certificate" in cause
    assert "identity.dir" in hint


async def test_expired_broker_certificate(rig: Rig, tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                          tls_listener: Listener) -> None:
    port = await tls_listener("localhost", expired=True)
    cause, hint = await first_warning(caplog, sink_config(rig, port=port, endpoint="localhost"),
                                 identity(rig, tmp_path, ca=rig.ca_path))
    assert "the broker's certificate has expired" in cause
    assert "clock" in hint


async def test_host_name_mismatch(rig: Rig, tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                  tls_listener: Listener) -> None:
    port = await tls_listener("broker.elsewhere.example")
    cause, hint = await first_warning(caplog, sink_config(rig, port=port, endpoint="localhost"),
                                 identity(rig, tmp_path, ca=rig.ca_path))
    assert "not valid for 'localhost'" in cause
    assert "publish.endpoint" in hint


async def test_listener_that_never_answers_times_out(rig: Rig, tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        cause, hint = await first_warning(caplog, sink_config(rig, port=port), identity(rig, tmp_path),
                                     within=60.0)
    assert "timed out" in cause
    assert "no TLS handshake" in cause
    assert "an MQTT broker with TLS" in hint


async def test_unresolvable_endpoint(rig: Rig, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cause, hint = await first_warning(caplog, sink_config(rig, port=8883, endpoint="no-such-broker.invalid"),
                                 identity(rig, tmp_path))
    assert "cannot resolve 'no-such-broker.invalid'" in cause
    assert "describe-endpoint" in hint


async def test_one_warning_per_outage_then_back(rig: Rig, tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    """Retries are counted, not logged one by one; coming back is said once."""
    caplog.set_level(logging.INFO)
    rig.start()
    port = rig.port
    rig.stop()
    async with MqttSink(sink_config(rig, port=port), identity(rig, tmp_path)) as sink:
        await wait_until(lambda: sink.counters.get("connect_failures") >= 3, 40)
        rig.start()
        await sink.wait_connected(40)
    events = [r.getMessage() for r in caplog.records if r.name == MQTT_LOGGER]
    assert events.count("mqtt_connect_failed") == 1
    assert "mqtt_connected_after_failures" in events
    assert sink.counters.snapshot()["link_problem"] == ""
