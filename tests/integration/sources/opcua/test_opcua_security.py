"""Basic256Sha256 Sign / SignAndEncrypt with application certificates, and user name / password.
(Trust lists, the other policies and X.509 user tokens: test_opcua_trust.py.)"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from asyncua import ua
from asyncua.client.client import Client
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256
from asyncua.ua.status_codes import StatusCodes
from asyncua.ua.uaerrors import UaStatusCodeError

from edge_agent.envelope import Quality
from edge_agent.errors import EdgeferryError
from edge_agent.sources.opcua.connection import certificate_uri
from edge_agent.sources.opcua.source import OpcUaSource
from simulators.opcua.certs import make_certificate
from simulators.opcua.server import OpcUaSimulator, Security
from tests.integration.sources.opcua.conftest import Collector, device, trust

POINTS = [{"name": "level", "node": "ns=2;s=Station.TankLevel"},
          {"name": "station_name", "node": "ns=2;s=Station.Name", "sampling": "poll"}]


@pytest.mark.parametrize(("sim_security", "mode", "pin_server"), [
    ("sign", "Sign", True),
    ("signandencrypt", "SignAndEncrypt", True),
    ("signandencrypt", "SignAndEncrypt", False),
])
async def test_basic256sha256_with_application_certificate(
        tmp_path: Path, collect: Callable[[OpcUaSource], Collector], sim_security: Security, mode: str,
        pin_server: bool) -> None:
    client = make_certificate(tmp_path / "client", "edge-agent", "urn:edgeferry:test:booster")
    async with OpcUaSimulator(port=0, points=10, update_interval=0.2, security=sim_security,
                              cert_dir=tmp_path / "server") as sim:
        assert sim.server_certificate is not None
        security = {"policy": "Basic256Sha256", "mode": mode, "certificate": str(client.certificate),
                    "private_key": str(client.private_key), "pki": str(tmp_path / "pki")}
        if pin_server:
            security["server_certificate"] = str(sim.server_certificate)
        else:
            trust(sim.server_certificate, tmp_path / "pki")
        async with OpcUaSource(device(sim.endpoint, POINTS, security=security)) as source:
            c = collect(source)
            await c.wait_for(lambda: len(c.of("level")) >= 2 and bool(c.of("station_name")))
        await c.stop()
    assert all(r.q is Quality.GOOD for r in c.of("level") + c.of("station_name"))
    assert source.counters.get("connect_errors") == 0


async def test_a_server_requiring_security_refuses_a_client_without(
        tmp_path: Path, collect: Callable[[OpcUaSource], Collector]) -> None:
    async with OpcUaSimulator(port=0, points=10, security="sign", cert_dir=tmp_path) as sim:
        async with OpcUaSource(device(sim.endpoint, POINTS)) as source:
            c = collect(source)
            await c.wait_for(lambda: source.counters.get("connect_errors") >= 1 and bool(c.readings))
        await c.stop()
    assert all(r.q is Quality.BAD and r.v is None for r in c.readings)


async def test_user_and_password_accepted(collect: Callable[[OpcUaSource], Collector]) -> None:
    async with OpcUaSimulator(port=0, points=10, update_interval=0.2,
                              users={"operator": "s3cret"}) as sim:
        config = device(sim.endpoint, POINTS, username="operator", password="s3cret")
        async with OpcUaSource(config) as source:
            c = collect(source)
            await c.wait_for(lambda: len(c.of("level")) >= 2)
        await c.stop()
    assert all(r.q is Quality.GOOD for r in c.readings)


@pytest.mark.parametrize(("credentials", "expected"), [
    ({"username": "operator", "password": "wrong"}, "BadUserAccessDenied"),
    ({}, "BadIdentityTokenRejected"),  # anonymous, where the server requires a user
])
async def test_wrong_password_is_refused_with_a_clear_error(
        collect: Callable[[OpcUaSource], Collector], caplog: pytest.LogCaptureFixture,
        credentials: dict[str, str], expected: str) -> None:
    caplog.set_level(logging.DEBUG, logger="edge_agent.sources.opcua")
    async with OpcUaSimulator(port=0, points=10, users={"operator": "s3cret"}) as sim:
        async with OpcUaSource(device(sim.endpoint, POINTS, **credentials)) as source:
            c = collect(source)
            await c.wait_for(lambda: source.counters.get("connect_errors") >= 2)
        await c.stop()
    refusals = [r for r in caplog.records if r.getMessage() == "opcua_connect_failed"]
    assert refusals[0].levelno == logging.ERROR, "the first refusal is an error line"
    assert refusals[1:], "retries are logged, below the default level"
    assert all(r.levelno == logging.DEBUG for r in refusals[1:]), "retries do not repeat the error"
    status = refusals[0].status  # type: ignore[attr-defined]
    assert status == expected
    assert expected in refusals[0].reason  # type: ignore[attr-defined]
    assert not any("wrong" in str(vars(r)) for r in caplog.records), "the password is never logged"
    marked = c.readings
    assert {r.point for r in marked} == {"level", "station_name"}, "every point marked bad once"
    assert len(marked) == 2
    assert all(r.q is Quality.BAD and r.code == getattr(StatusCodes, status) for r in marked)
    assert source.counters.get("reconnects") == 0


async def test_the_application_uri_must_be_the_certificates(tmp_path: Path) -> None:
    """OPC-UA Part 4, 5.6.2: the server checks the client's ApplicationUri against its certificate;
    the source always announces the certificate's URI, so only a hand-made client can get it wrong."""
    files = make_certificate(tmp_path / "client", "edge-agent", "urn:edgeferry:test:booster")
    assert certificate_uri(files.certificate) == "urn:edgeferry:test:booster"
    async with OpcUaSimulator(port=0, points=10, security="sign", cert_dir=tmp_path / "server") as sim:
        assert sim.server_certificate is not None
        client = Client(sim.endpoint, timeout=5)
        client.application_uri = "urn:edgeferry:test:someone-else"
        await client.set_security(SecurityPolicyBasic256Sha256, str(files.certificate), str(files.private_key),
                                  server_certificate=str(sim.server_certificate), mode=ua.MessageSecurityMode.Sign)
        with pytest.raises(UaStatusCodeError) as refused:
            await client.connect()
        assert refused.value.code == StatusCodes.BadCertificateUriInvalid


def test_certificate_problems_are_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(EdgeferryError, match="cannot read certificate"):
        certificate_uri(tmp_path / "missing.der")
    (tmp_path / "junk.der").write_bytes(b"not a certificate")
    with pytest.raises(EdgeferryError, match="is not a PEM or DER certificate"):
        certificate_uri(tmp_path / "junk.der")


async def test_an_open_simulator_starts_without_warnings(caplog: pytest.LogCaptureFixture) -> None:
    """It offers only the anonymous identity it accepts, so asyncua has no unprotected
    certificate or password token to warn about."""
    caplog.set_level(logging.WARNING)
    async with OpcUaSimulator(port=0, points=10):
        pass
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
